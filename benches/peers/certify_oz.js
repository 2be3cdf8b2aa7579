// Times OpenZeppelin's JavaScript StandardMerkleTree (@openzeppelin/merkle-tree 1.0.8, pinned in
// benches/peers/certify/package.json) building trees of bytes32 leaves and producing a proof per
// leaf, the peer of the `certify/tree/keccak_leaves_and_tree_65536` benchmark.
//
//   (cd benches/peers/certify && npm ci) && node benches/peers/certify_oz.js [LEAVES] [BATCH]
"use strict";

const path = require("path");
const crypto = require("crypto");
const { StandardMerkleTree } = require(
  path.join(__dirname, "certify", "node_modules", "@openzeppelin", "merkle-tree"),
);

const leaves = Number(process.argv[2] || 65536);
const batch = Number(process.argv[3] || leaves);
const values = [];
for (let i = 0; i < leaves; i++) {
  values.push(["0x" + crypto.createHash("sha256").update(String(i)).digest("hex")]);
}

function run(withProofs) {
  const start = process.hrtime.bigint();
  let proofs = 0;
  for (let offset = 0; offset < leaves; offset += batch) {
    const tree = StandardMerkleTree.of(values.slice(offset, offset + batch), ["bytes32"]);
    if (withProofs) {
      for (let i = 0; i < tree.length; i++) {
        proofs += tree.getProof(i).length > 0 ? 1 : 0;
      }
    } else if (!tree.root) {
      throw new Error("no root");
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, proofs };
}

run(false); // warm-up
const build = run(false);
console.log(
  `OpenZeppelin StandardMerkleTree.of: ${leaves} leaves in batches of ${batch}: ` +
    `${build.seconds.toFixed(3)} s, ${Math.round(leaves / build.seconds)} leaves/s`,
);
if (leaves <= 20000) {
  const withProofs = run(true);
  console.log(
    `  with a proof per leaf: ${withProofs.seconds.toFixed(3)} s, ` +
      `${Math.round(leaves / withProofs.seconds)} leaves/s`,
  );
}
