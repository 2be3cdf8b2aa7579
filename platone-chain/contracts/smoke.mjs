// Smoke test of the committed CertificationAnchor artifact on a real anvil, with raw JSON-RPC
// only: deploys it, anchors a two-leaf StandardMerkleTree root, reads it back with anchorAt,
// checks verifyBatch for a good and a tampered proof, that a stranger cannot anchor, and that
// later anchors chain to the previous root (printing the gas each one used).
//   node platone-chain/contracts/smoke.mjs   (anvil from $PLATONE_ANVIL or node_modules)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const anvilPath = process.env.PLATONE_ANVIL ?? resolve(here, "../../node_modules/.bin/anvil");
const artifact = JSON.parse(readFileSync(resolve(here, "../artifacts/CertificationAnchor.json"), "utf8"));
const sel = (sig) => artifact.methodIdentifiers[sig];
const word = (hex) => hex.replace(/^0x/, "").padStart(64, "0");
const fail = (msg) => { throw new Error(msg); };

const port = await new Promise((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); });
});
const anvil = spawn(anvilPath, ["--port", String(port), "--silent"], { stdio: "ignore" });
const url = `http://127.0.0.1:${port}`;
let id = 0;
async function rpc(method, params = []) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }) });
  const body = await res.json();
  if (body.error) throw Object.assign(new Error(`${method}: ${body.error.message}`), { data: body.error.data });
  return body.result;
}
const keccak = (hex) => rpc("web3_sha3", [hex]);
async function send(from, to, data) {
  const hash = await rpc("eth_sendTransaction", [{ from, to, data, gas: "0x1e8480" }]);
  let receipt = null;
  for (let i = 0; receipt === null && i < 100; i++) {
    receipt = await rpc("eth_getTransactionReceipt", [hash]);
    if (receipt === null) await new Promise((r) => setTimeout(r, 50));
  }
  if (receipt?.status !== "0x1") fail(`transaction ${hash} ${receipt ? "reverted" : "was not mined"}`);
  return receipt;
}

try {
  for (let i = 0; ; i++) {
    try { await rpc("eth_chainId"); break; } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 100)); }
  }
  const [admin, stranger] = await rpc("eth_accounts");
  const deployed = await send(admin, null, artifact.bytecode + word(admin));
  const contract = deployed.contractAddress;
  console.log(`CertificationAnchor at ${contract} (deploy gas ${parseInt(deployed.gasUsed, 16)})`);

  // StandardMerkleTree over two certificate hashes: leaf = keccak(keccak(abi.encode(h))),
  // parent = keccak of the sorted pair.
  const certs = ["0x" + "11".repeat(32), "0x" + "22".repeat(32)];
  const leaves = [];
  for (const c of certs) leaves.push(await keccak(await keccak("0x" + word(c))));
  const onChainLeaf = await rpc("eth_call", [{ to: contract, data: "0x" + sel("batchLeaf(bytes32)") + word(certs[0]) }, "latest"]);
  if (onChainLeaf !== leaves[0]) fail(`batchLeaf ${onChainLeaf} != ${leaves[0]}`);
  const sorted = [...leaves].sort();
  const root = await keccak("0x" + word(sorted[0]) + word(sorted[1]));

  const anchored = await send(admin, contract, "0x" + sel("anchor(bytes32,uint32)") + word(root) + word("2"));
  const log = anchored.logs[0];
  if (BigInt(log.topics[1]) !== 0n) fail(`Anchored position ${log.topics[1]}`);
  if (log.data !== "0x" + word(root) + word("0") + word("2")) fail(`Anchored data ${log.data}`);
  console.log(`anchor(root, 2): position 0, gas ${parseInt(anchored.gasUsed, 16)}`);

  const at = await rpc("eth_call", [{ to: contract, data: "0x" + sel("anchorAt(uint64)") + word("0") }, "latest"]);
  const block = await rpc("eth_getBlockByNumber", [anchored.blockNumber, false]);
  if (at !== "0x" + word(root) + word(block.timestamp)) fail(`anchorAt(0) = ${at}`);
  console.log(`anchorAt(0) = (${root}, ${parseInt(block.timestamp, 16)})`);

  const verify = async (cert, sibling) => BigInt(await rpc("eth_call", [{ to: contract, data: "0x" +
    sel("verifyBatch(uint64,bytes32,bytes32[])") + word("0") + word(cert) + word("60") + word("1") + word(sibling) }, "latest"]));
  if ((await verify(certs[0], leaves[1])) !== 1n) fail("verifyBatch rejected a good proof");
  if ((await verify(certs[1], leaves[0])) !== 1n) fail("verifyBatch rejected a good proof");
  if ((await verify("0x" + "33".repeat(32), leaves[1])) !== 0n) fail("verifyBatch accepted a tampered hash");
  console.log("verifyBatch: good proofs accepted, tampered hash rejected");

  let refused = false;
  try {
    await rpc("eth_call", [{ from: stranger, to: contract, data: "0x" + sel("anchor(bytes32,uint32)") + word(root) + word("1") }, "latest"]);
  } catch (e) {
    // AccessControlUnauthorizedAccount(address,bytes32)
    refused = String(e.data ?? e.message).includes("e2517d3f");
  }
  if (!refused) fail("a stranger could anchor");
  console.log("a stranger's anchor is refused with AccessControlUnauthorizedAccount");

  // Eight more anchors: each chains to the previous root; gas per anchor once warmed up.
  const gas = [];
  for (let p = 1, previous = root; p <= 8; p++) {
    const next = await keccak("0x" + word(previous));
    const receipt = await send(admin, contract, "0x" + sel("anchor(bytes32,uint32)") + word(next) + word("b4"));
    if (receipt.logs[0].data !== "0x" + word(next) + word(previous) + word("b4")) fail(`anchor ${p} does not chain`);
    gas.push(parseInt(receipt.gasUsed, 16));
    previous = next;
  }
  console.log(`anchors 1..8 chain to their previous roots; gas ${gas.join(" ")}`);
} finally {
  anvil.kill();
}
