# A minimal Noise initiator built on python3-dissononce (an implementation
# independent of ours): connects to a knoten node, sends handshake message 1
# of Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b in a 2-byte big-endian length frame
# and reports how many bytes the node sent back before closing.
#
#   noise_client.py PORT PSK-FILE|random [PROLOGUE]
#
# Prints "received N closed|open": N bytes within 5 s, and whether the node
# closed the connection. Used by wrong_network_key.sh.
import os
import socket
import struct
import sys

from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.blake2b import Blake2bHash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState
from dissononce.processing.modifiers.psk import PSKPatternModifier


def main():
    port = int(sys.argv[1])
    if sys.argv[2] == "random":
        psk = os.urandom(32)
    else:
        with open(sys.argv[2], "rb") as f:
            psk = f.read()
    prologue = sys.argv[3].encode() if len(sys.argv) > 3 else b"knoten/1"
    assert len(psk) == 32

    hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()), X25519DH())
    hs.initialize(PSKPatternModifier(0).modify(XXHandshakePattern()), True, prologue,
                  s=X25519DH().generate_keypair(), psks=(psk,))
    msg1 = bytearray()
    hs.write_message(b"", msg1)
    assert hs.protocol_name == "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b"

    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(struct.pack(">H", len(msg1)) + bytes(msg1))
    got, closed = b"", False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
            if len(got) >= 2 and len(got) >= 2 + struct.unpack(">H", got[:2])[0]:
                break  # a whole frame (message 2) arrived
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    sock.close()
    if len(got) >= 2 and len(got) >= 2 + struct.unpack(">H", got[:2])[0]:
        # Prove it is a real message 2 for our PSK: dissononce must accept it.
        payload = bytearray()
        hs.read_message(got[2:], payload)
    print("received %d %s" % (len(got), "closed" if closed else "open"))


main()
