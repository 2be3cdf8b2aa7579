#!/usr/bin/env python3
"""Verify Platone records from their proofs and an Ethereum node alone.

    python3 docs/verify_on_chain.py --rpc URL --contract 0xCERTIFICATION_ANCHOR RECORDS PROOFS

RECORDS holds one JSON record per line, PROOFS the proof line of each (what
`platone certify batch --ledger eth:D.json` writes). Python's standard library only: keccak-256
is written out below and the node is asked over plain JSON-RPC. Records are canonicalised as
RFC 8785 by the `rfc8785` package when it is installed, otherwise by sorted, compact json.dumps,
which is the same for records whose numbers are integers or short decimals and whose keys are
in the Basic Multilingual Plane.

Prints one line per failing record and a summary; exits 1 when any record fails, 2 when the
node cannot be reached.
"""
import argparse
import hashlib
import json
import sys
import urllib.request

# --- keccak-256 (Ethereum's: the original padding 0x01 ... 0x80) --------------------------------
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
        [27, 20, 39, 8, 14]]
_M = (1 << 64) - 1


def _keccak_f(a):
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ (((c[(x + 1) % 5] << 1) | (c[(x + 1) % 5] >> 63)) & _M)
             for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                r = _ROT[x][y]
                b[y][(2 * x + 3 * y) % 5] = ((a[x][y] << r) | (a[x][y] >> (64 - r))) & _M if r else a[x][y]
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)]
             for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data: bytes) -> bytes:
    rate = 136
    padded = bytearray(data) + b"\x01" + b"\x00" * ((-len(data) - 1) % rate)
    padded[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(padded), rate):
        for i in range(rate // 8):
            a[i % 5][i // 5] ^= int.from_bytes(padded[off + 8 * i: off + 8 * i + 8], "little")
        a = _keccak_f(a)
    return b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


# --- hashing as platone-certify does --------------------------------------------------------------
def canonical(value) -> bytes:
    try:
        import rfc8785
        return rfc8785.dumps(value)
    except ImportError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()


def x(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def oz_leaf(value32: bytes) -> bytes:  # StandardMerkleTree leaf of a bytes32 value
    return keccak256(keccak256(value32))


def oz_fold(leaf: bytes, path) -> bytes:  # OpenZeppelin MerkleProof.processProof
    for p in path:
        leaf = keccak256(min(leaf, p) + max(leaf, p))
    return leaf


def rfc9162_root(leaf, index, size, siblings):  # RFC 9162 section 2.1.3.2
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in siblings:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def batch_root(record: bytes, proof: dict):
    siblings = [x(s) for s in proof["siblings"]]
    if proof["scheme"] == "sha256":
        leaf = hashlib.sha256(b"\x00" + record).digest()
        return leaf, rfc9162_root(leaf, proof["leaf_index"], proof["leaf_count"], siblings)
    leaf = oz_leaf(keccak256(record))
    return leaf, oz_fold(leaf, siblings)


# --- the node ---------------------------------------------------------------------------------
class Node:
    def __init__(self, rpc, contract):
        self.rpc, self.contract, self.roots = rpc, contract, {}

    def call(self, data: bytes):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                           "params": [{"to": self.contract, "data": "0x" + data.hex()},
                                      "latest"]}).encode()
        request = urllib.request.Request(self.rpc, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        return None if "error" in answer else x(answer["result"])  # None: reverted

    def root_at(self, position: int):
        if position not in self.roots:
            out = self.call(keccak256(b"anchorAt(uint64)")[:4] + position.to_bytes(32, "big"))
            self.roots[position] = out[:32] if out else None
        return self.roots[position]

    def verify_batch(self, position: int, certificate_hash: bytes, path) -> bool:
        data = (keccak256(b"verifyBatch(uint64,bytes32,bytes32[])")[:4]
                + position.to_bytes(32, "big") + certificate_hash
                + (96).to_bytes(32, "big") + len(path).to_bytes(32, "big") + b"".join(path))
        out = self.call(data)
        return bool(out) and int.from_bytes(out[:32], "big") == 1


def check(record_line: str, proof: dict, node: Node):
    """None when the record verifies, else what failed."""
    leaf, root = batch_root(canonical(json.loads(record_line)), proof)
    if leaf != x(proof["leaf"]):
        return "content: the record does not hash to the proof's leaf"
    if root is None or root != x(proof["root"]):
        return "path: the proof's path does not lead to its root"
    anchor = proof["anchor"]
    if anchor.get("status") != "anchored" or "chain_id" not in anchor:
        return "anchor: not anchored on chain"
    certificate = anchor["certificate"]
    certificate_hash = x(anchor["certificate_hash"])
    if hashlib.sha256(canonical(certificate)).digest() != certificate_hash:
        return "anchor: the certificate does not hash to certificate_hash"
    if certificate_hash != x(proof["certificate"]) or x(certificate["root"]) != root \
            or certificate["batch_id"] != proof["batch_id"] \
            or certificate["leaf_count"] != proof["leaf_count"]:
        return "anchor: the certificate is not this proof's"
    path = [x(p) for p in anchor["path"]]
    if oz_fold(oz_leaf(certificate_hash), path) != x(anchor["root"]):
        return "anchor: the anchor path does not lead to the anchored root"
    if anchor["contract"].lower() != node.contract.lower():
        return "anchor: another contract"
    held = node.root_at(anchor["position"])
    if held is None:
        return f"anchor: no anchor at position {anchor['position']}"
    if held != x(anchor["root"]):
        return "anchor: the contract holds another root at that position"
    if not node.verify_batch(anchor["position"], certificate_hash, path):
        return "anchor: verifyBatch refuses it"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--contract", required=True, help="the CertificationAnchor address")
    parser.add_argument("records")
    parser.add_argument("proofs")
    args = parser.parse_args()
    node = Node(args.rpc, args.contract)
    records = [l for l in open(args.records, encoding="utf-8") if l.strip()]
    proofs = [l for l in open(args.proofs, encoding="utf-8") if l.strip()]
    if len(records) != len(proofs):
        sys.exit(f"{len(records)} records but {len(proofs)} proofs")
    failed = 0
    for line, (record, proof) in enumerate(zip(records, proofs), start=1):
        try:
            problem = check(record, json.loads(proof), node)
        except OSError as e:
            print(f"node {args.rpc} unavailable: {e}", file=sys.stderr)
            sys.exit(2)
        if problem:
            failed += 1
            print(f"line {line}: FAILED: {problem}")
    print(f"verified {len(records) - failed}, failed {failed}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
