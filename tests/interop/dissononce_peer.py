#!/usr/bin/python3
"""The python3-dissononce side of the Noise interop test (see noise_peer.c).

    dissononce_peer.py listen  0    SCENARIO NETKEY_HEX PROLOGUE ok|reject
    dissononce_peer.py connect PORT SCENARIO NETKEY_HEX PROLOGUE ok|reject

dissononce runs the Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b handshake and its
CipherStates; framing, fragments, identity statements and Rekey() are written
here from DESIGN.md and the Noise spec. dissononce's own rekey() is wrong (it
keeps a 48-byte key and resets the nonce), so rekey() below does the spec's:
k = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes), nonce unchanged.
Only 127.0.0.1 is used; every socket operation has a timeout.
"""
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives import serialization
from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.exceptions.decrypt import DecryptFailedException
from dissononce.hash.blake2b import Blake2bHash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState
from dissononce.processing.modifiers.psk import PSKPatternModifier

TIMEOUT = 60
REKEY_INTERVAL = 65536
MAX_CHUNK = 65518
BIG = 200000
MANY = REKEY_INTERVAL + 10
CONTEXT = b"knoten/noise-static/1"


def fail(msg):
    sys.stderr.write("dissononce_peer: %s\n" % msg)
    sys.exit(1)


class Transport:
    """Frames, fragments and spec-correct rekeying over two dissononce CipherStates."""

    def __init__(self, sock, send_cs, recv_cs, buf):
        self.sock, self.send_cs, self.recv_cs, self.buf = sock, send_cs, recv_cs, buf
        self.cipher = ChaChaPolyCipher()

    def rekey(self, cs):
        k = self.cipher.encrypt(cs._key, 2**64 - 1, b"", bytes(32))[:32]
        cs._key = k  # the nonce stays as it is

    def encrypt(self, plaintext):
        ct = self.send_cs.encrypt_with_ad(b"", plaintext)
        if self.send_cs._nonce % REKEY_INTERVAL == 0:
            self.rekey(self.send_cs)
        return ct

    def decrypt(self, ct):
        pt = self.recv_cs.decrypt_with_ad(b"", ct)
        if self.recv_cs._nonce % REKEY_INTERVAL == 0:
            self.rekey(self.recv_cs)
        return pt

    def frames_for(self, msg):
        out = bytearray()
        chunks = [msg[i:i + MAX_CHUNK] for i in range(0, len(msg), MAX_CHUNK)] or [b""]
        for i, chunk in enumerate(chunks):
            flag = b"\x00" if i == len(chunks) - 1 else b"\x01"
            ct = self.encrypt(flag + chunk)
            assert len(ct) <= 65535
            out += struct.pack(">H", len(ct)) + ct
        return bytes(out)

    def send(self, msg):
        self.sock.sendall(self.frames_for(msg))

    def recv_frame(self):
        return recv_frame(self.sock, self.buf)

    def recv(self):
        parts = []
        while True:
            pt = self.decrypt(self.recv_frame())
            if not pt or pt[0] not in (0, 1):
                fail("bad fragment byte")
            parts.append(pt[1:])
            if pt[0] == 0:
                return b"".join(parts)


def recv_exact(sock, buf, n):
    while len(buf) < n:
        data = sock.recv(1 << 16)
        if not data:
            raise EOFError
        buf += data
    out = bytes(buf[:n])
    del buf[:n]
    return out


def recv_frame(sock, buf):
    (n,) = struct.unpack(">H", recv_exact(sock, buf, 2))
    return recv_exact(sock, buf, n)


def uint_mp(v):
    if v < 128:
        return bytes([v])
    if v < 256:
        return b"\xcc" + bytes([v])
    if v < 65536:
        return b"\xcd" + struct.pack(">H", v)
    if v < 2**32:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)


def make_statement(identity, x25519_pub, expiry):
    pk = identity.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    sig = identity.sign(CONTEXT + x25519_pub + struct.pack(">Q", expiry))
    return b"\x93\xc4\x20" + pk + uint_mp(expiry) + b"\xc4\x40" + sig


def check_statement(blob, remote_static, now):
    """Decodes [identity bin32, expiry uint, sig bin64] and checks it like identity.c."""
    if blob[:3] != b"\x93\xc4\x20":
        fail("statement header %r" % blob[:3])
    pk, rest = blob[3:35], blob[35:]
    tag = rest[0]
    if tag < 0x80:
        expiry, rest = tag, rest[1:]
    else:
        width = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[tag]
        expiry, rest = int.from_bytes(rest[1:1 + width], "big"), rest[1 + width:]
    if rest[:2] != b"\xc4\x40" or len(rest) != 66:
        fail("statement signature encoding")
    Ed25519PublicKey.from_public_bytes(pk).verify(
        rest[2:], CONTEXT + remote_static + struct.pack(">Q", expiry))
    if now >= expiry:
        fail("statement expired")
    return pk


def main():
    if len(sys.argv) != 7:
        fail("usage: dissononce_peer.py listen|connect PORT SCENARIO NETKEY_HEX PROLOGUE ok|reject")
    mode, port, scenario, netkey_hex, prologue, expect = sys.argv[1:]
    listening = mode == "listen"
    netkey = bytes.fromhex(netkey_hex)

    if listening:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.settimeout(TIMEOUT)
        print("PORT %d" % lsock.getsockname()[1], flush=True)
        sock, _ = lsock.accept()
        lsock.close()
    else:
        sock = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    buf = bytearray()

    dh = X25519DH()
    static = dh.generate_keypair()
    identity = Ed25519PrivateKey.generate()
    now = int(time.time() * 1000)
    statement = make_statement(identity, static.public.data, now + 3600 * 1000)

    hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()), dh)
    pattern = PSKPatternModifier(0).modify(XXHandshakePattern())
    hs.initialize(pattern, not listening, prologue.encode(), s=static, psks=(netkey,))

    try:
        if not listening:
            msg = bytearray()
            hs.write_message(b"", msg)  # -> psk, e
            sock.sendall(struct.pack(">H", len(msg)) + msg)
            try:
                m2 = recv_frame(sock, buf)
            except (EOFError, ConnectionResetError):
                if expect == "reject" and not buf:
                    print("rejected as expected: the knoten responder sent 0 bytes and closed")
                    return
                fail("connection closed during the handshake")
            payload = bytearray()
            hs.read_message(m2, payload)  # <- e, ee, s, es
            peer = check_statement(bytes(payload), hs.rs.data, now)
            msg = bytearray()
            cs_pair = hs.write_message(statement, msg)  # -> s, se
            sock.sendall(struct.pack(">H", len(msg)) + msg)
            send_cs, recv_cs = cs_pair
        else:
            m1 = recv_frame(sock, buf)
            payload = bytearray()
            try:
                hs.read_message(m1, payload)  # -> psk, e
            except DecryptFailedException:
                if expect == "reject":
                    print("rejected message 1 as expected (DecryptFailedException); sent nothing")
                    return
                raise
            msg = bytearray()
            hs.write_message(statement, msg)  # <- e, ee, s, es
            sock.sendall(struct.pack(">H", len(msg)) + msg)
            m3 = recv_frame(sock, buf)
            payload = bytearray()
            cs_pair = hs.read_message(m3, payload)  # -> s, se
            peer = check_statement(bytes(payload), hs.rs.data, now)
            recv_cs, send_cs = cs_pair
    except DecryptFailedException:
        fail("handshake decryption failed")
    if expect == "reject":
        fail("handshake succeeded but should have been rejected")

    t = Transport(sock, send_cs, recv_cs, buf)
    pattern_bytes = lambda n, mul: bytes((i * mul) % 251 for i in range(n))

    if scenario == "basic":
        out = b"".join(t.frames_for(b"message %d from py" % i) for i in range(5))
        out += t.frames_for(pattern_bytes(BIG, 11)) + t.frames_for(b"")
        sock.sendall(out)
        for i in range(5):
            got = t.recv()
            if got != b"message %d from c" % i:
                fail("small message %d: %r" % (i, got[:40]))
        if t.recv() != pattern_bytes(BIG, 7):
            fail("fragmented message differs")
        if t.recv() != b"":
            fail("empty message differs")
    elif scenario == "max":
        frame = t.frames_for(pattern_bytes(MAX_CHUNK, 5))
        assert len(frame) == 2 + 65535
        sock.sendall(frame)
        ct = t.recv_frame()
        if len(ct) != 65535:
            fail("expected a 65535-byte frame from knoten, got %d" % len(ct))
        pt = t.decrypt(ct)
        if pt != b"\x00" + pattern_bytes(MAX_CHUNK, 3):
            fail("max-size message differs")
    elif scenario == "rekey":
        for i in range(3):
            t.send(b"before %d" % i)
        t.rekey(t.send_cs)  # our 3 are sent: rekey this direction
        for i in range(3):
            if t.recv() != b"before %d" % i:
                fail("message before rekey")
        t.rekey(t.recv_cs)  # the peer's 3 are read: rekey that direction
        for i in range(3):
            t.send(b"after %d" % i)
        for i in range(3):
            if t.recv() != b"after %d" % i:
                fail("message after explicit rekey")
        sock.sendall(b"".join(t.frames_for(struct.pack(">I", i)) for i in range(MANY)))
        for i in range(MANY):
            if t.recv() != struct.pack(">I", i):
                fail("message %d around the automatic rekey" % i)
        if t.send_cs._nonce < REKEY_INTERVAL or t.recv_cs._nonce < REKEY_INTERVAL:
            fail("did not cross the automatic rekey")
    else:
        fail("unknown scenario " + scenario)

    t.send(b"bye")
    if t.recv() != b"bye":
        fail("no bye")
    sock.close()
    print("%s ok as %s; peer identity %s..." % (scenario, "responder" if listening else "initiator",
                                              peer[:4].hex()))


if __name__ == "__main__":
    main()
