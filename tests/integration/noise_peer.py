# A complete knoten peer in Python, written only from DESIGN.md and the
# headers' format descriptions, on python3-dissononce (Noise) and
# python3-cryptography (Ed25519): it completes Noise_XXpsk0 with a node,
# exchanges identity statements, answers the node's ping, sends its own ping
# and checks the pong, then sends MESSAGE (hex; an invalid one) and reports
# what the node did.
#
#   noise_peer.py PORT NETWORK-KEY-FILE BAD-MESSAGE-HEX
#
# Prints "established <node identity hex>", "pong ok", then
# "after bad message: bye <reason>" or "... closed" (what came back).
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.blake2b import Blake2bHash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState
from dissononce.processing.modifiers.psk import PSKPatternModifier

CONTEXT = b"knoten/noise-static/1"


def statement(identity_sk, x25519_pub, expiry_ms):
    # [identity bin32, expiry uint, sig bin64], canonical msgpack.
    sig = identity_sk.sign(CONTEXT + x25519_pub + struct.pack(">Q", expiry_ms))
    pk = identity_sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert expiry_ms >= 1 << 32
    return b"\x93\xc4\x20" + pk + b"\xcf" + struct.pack(">Q", expiry_ms) + b"\xc4\x40" + sig


def parse_statement(b):
    assert b[:3] == b"\x93\xc4\x20" and b[35:36] == b"\xcf" and b[44:46] == b"\xc4\x40", b.hex()
    assert len(b) == 110
    return b[3:35], struct.unpack(">Q", b[36:44])[0], b[46:110]


class Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def send_frame(self, body):
        self.sock.sendall(struct.pack(">H", len(body)) + body)

    def recv_frame(self):
        while True:
            if len(self.buf) >= 2:
                n = struct.unpack(">H", self.buf[:2])[0]
                if len(self.buf) >= 2 + n:
                    body, self.buf = self.buf[2 : 2 + n], self.buf[2 + n :]
                    return body
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk


def mp_uint(v):
    if v < 0x80:
        return bytes([v])
    for code, fmt, lim in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16), (0xCE, ">I", 1 << 32)):
        if v < lim:
            return bytes([code]) + struct.pack(fmt, v)
    return b"\xcf" + struct.pack(">Q", v)


def main():
    port, keyfile, bad = int(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3])
    with open(keyfile, "rb") as f:
        psk = f.read()
    dh = X25519DH()
    static = dh.generate_keypair()
    identity = Ed25519PrivateKey.generate()
    hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()), dh)
    hs.initialize(PSKPatternModifier(0).modify(XXHandshakePattern()), True, b"knoten/1",
                  s=static, psks=(psk,))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    c = Conn(sock)
    m = bytearray()
    hs.write_message(b"", m)  # -> psk, e
    c.send_frame(bytes(m))
    payload = bytearray()
    hs.read_message(c.recv_frame(), payload)  # <- e, ee, s, es + statement
    node_id, expiry, sig = parse_statement(bytes(payload))
    Ed25519PublicKey.from_public_bytes(node_id).verify(
        sig, CONTEXT + hs.rs.data + struct.pack(">Q", expiry))
    assert expiry > time.time() * 1000
    m = bytearray()
    send, recv = hs.write_message(statement(identity, static.public.data,
                                            int(time.time() * 1000) + 3600_000), m)
    c.send_frame(bytes(m))  # -> s, se + our statement
    print("established", node_id.hex(), flush=True)

    def send_msg(msg):
        c.send_frame(send.encrypt_with_ad(b"", b"\x00" + msg))  # 0x00: final fragment

    def recv_msg():
        f = c.recv_frame()
        if f is None:
            return None
        plain = recv.decrypt_with_ad(b"", f)
        assert plain[:1] == b"\x00", plain.hex()
        return plain[1:]

    nonce = int.from_bytes(os.urandom(4), "big")
    send_msg(b"\x92\xa4ping" + mp_uint(nonce))
    got_pong = False
    while not got_pong:
        msg = recv_msg()
        assert msg is not None, "node closed before answering our ping"
        if msg.startswith(b"\x92\xa4ping"):
            send_msg(b"\x92\xa4pong" + msg[6:])  # answer the node's ping with its nonce
        elif msg.startswith(b"\x94\xa5hello"):
            pass  # the replication engine's greeting; this peer does not replicate
        elif msg == b"\x92\xa4pong" + mp_uint(nonce):
            got_pong = True
        else:
            raise SystemExit("unexpected message " + msg.hex())
    print("pong ok", flush=True)

    send_msg(bad)
    while True:
        try:
            msg = recv_msg()
        except ConnectionResetError:
            msg = None
        if msg is None:
            print("after bad message: closed")
            return
        if msg.startswith(b"\x92\xa3bye"):
            # ["bye", str]: fixstr (0xa0..0xbf) or str8 (0xd9, 1 length byte).
            r = msg[5:]
            text = r[1:] if r[0] & 0xE0 == 0xA0 else r[2:]
            print("after bad message: bye", text.decode())
            assert c.recv_frame() is None, "the node kept the connection open after bye"
            return


main()
