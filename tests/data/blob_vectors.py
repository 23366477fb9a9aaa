#!/usr/bin/python3
"""Writes tests/data/blob-vectors.txt: known answers for the blob format.

Independent of knoten's C code: Python's hashlib.blake2b(digest_size=32).
Run once from the repository root (`/usr/bin/python3 tests/data/blob_vectors.py`);
the output is checked in and replayed by tests/unit/protocol/test_blob.c.

The file content of size n is the deterministic stream
    byte[i] = ((i * 2654435761) mod 2**32) >> 24
(the same generator as gen_bytes() in test_blob.c and tools/cli tests).
Each line: size, blob id, then every chunk hash, all hex, space-separated.
"""
import hashlib

CHUNK = 262144
SIZES = [0, 1, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * 1024 * 1024 + 12345]


def gen(n):
    return bytes(((i * 2654435761) & 0xFFFFFFFF) >> 24 for i in range(n))


def main():
    with open("tests/data/blob-vectors.txt", "w") as out:
        out.write("# size blob-id chunk-hashes... (made by tests/data/blob_vectors.py)\n")
        for n in SIZES:
            data = gen(n)
            hashes = [
                hashlib.blake2b(data[o:o + CHUNK], digest_size=32).digest()
                for o in range(0, n, CHUNK)
            ]
            blob = hashlib.blake2b(b"".join(hashes), digest_size=32).digest()
            out.write(" ".join([str(n), blob.hex()] + [h.hex() for h in hashes]) + "\n")


if __name__ == "__main__":
    main()
