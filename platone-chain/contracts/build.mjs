// Compiles the Solidity contracts of platone-chain with the solc npm package pinned in the
// repository's package-lock.json and writes one artifact per contract to
// platone-chain/artifacts/NAME.json:
//   {"contractName", "abi", "bytecode", "deployedBytecode", "methodIdentifiers", "compiler"}
// Any compiler error or warning fails the build.
//
//   node platone-chain/contracts/build.mjs           write the artifacts
//   node platone-chain/contracts/build.mjs --check   compile in memory; exit 1 naming every
//                                                    artifact that differs from the committed one
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const contractsDir = dirname(fileURLToPath(import.meta.url));
const artifactsDir = resolve(contractsDir, "..", "artifacts");
const repoRoot = resolve(contractsDir, "..", "..");
const nodeModules = join(repoRoot, "node_modules");

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--check");
if (unknown.length > 0) {
  console.error(`build.mjs: unknown argument(s) ${unknown.join(" ")}; usage: build.mjs [--check]`);
  process.exit(2);
}
const check = args.includes("--check");

// Source unit names are the bare file names, so the metadata (and its hash at the end of the
// bytecode) does not depend on where the repository is checked out.
const sourceNames = readdirSync(contractsDir)
  .filter((f) => f.endsWith(".sol"))
  .sort();
const sources = Object.fromEntries(
  sourceNames.map((f) => [f, { content: readFileSync(join(contractsDir, f), "utf8") }]),
);

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    // "paris" (the Merge) is the last EVM version without PUSH0 (Shanghai) and MCOPY/transient
    // storage (Cancun). Private proof-of-authority chains such as the Hyperledger Besu network
    // of the Platone field trials often run an older fork schedule; paris bytecode runs there
    // and on every later fork, including anvil's default.
    evmVersion: "paris",
    outputSelection: Object.fromEntries(
      sourceNames.map((f) => [
        f,
        { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] },
      ]),
    ),
  },
};

// Resolves `@openzeppelin/…` imports from the pinned package in node_modules.
function findImports(path) {
  if (!path.startsWith("@openzeppelin/")) {
    return { error: `import ${path} is neither a contract of this directory nor @openzeppelin/` };
  }
  const file = join(nodeModules, path);
  if (!existsSync(file)) {
    return { error: `${file} not found; run \`npm ci\` at the repository root` };
  }
  return { contents: readFileSync(file, "utf8") };
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const problems = (output.errors ?? []).filter((e) => e.severity !== "info");
for (const p of problems) {
  console.error(p.formattedMessage ?? p.message);
}
if (problems.length > 0) {
  console.error(`build.mjs: ${problems.length} compiler error(s)/warning(s); no artifact written`);
  process.exit(1);
}

const compiler = solc.version();
const artifacts = new Map();
for (const source of sourceNames) {
  for (const [name, contract] of Object.entries(output.contracts?.[source] ?? {})) {
    if (artifacts.has(name)) {
      console.error(`build.mjs: contract ${name} is defined twice`);
      process.exit(1);
    }
    const ids = contract.evm.methodIdentifiers;
    const artifact = {
      contractName: name,
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      methodIdentifiers: Object.fromEntries(Object.keys(ids).sort().map((k) => [k, ids[k]])),
      compiler,
    };
    artifacts.set(name, `${JSON.stringify(artifact, null, 2)}\n`);
  }
}

if (check) {
  const stale = [];
  for (const [name, text] of artifacts) {
    const file = join(artifactsDir, `${name}.json`);
    if (!existsSync(file)) stale.push(`${relative(repoRoot, file)} (missing)`);
    else if (readFileSync(file, "utf8") !== text) stale.push(`${relative(repoRoot, file)} (differs)`);
  }
  if (existsSync(artifactsDir)) {
    for (const f of readdirSync(artifactsDir).filter((f) => f.endsWith(".json")).sort()) {
      if (!artifacts.has(f.slice(0, -5))) stale.push(`${relative(repoRoot, join(artifactsDir, f))} (no such contract)`);
    }
  }
  if (stale.length > 0) {
    for (const s of stale) console.error(`stale artifact: ${s}`);
    console.error("build.mjs: rebuild with `node platone-chain/contracts/build.mjs` and commit the artifacts");
    process.exit(1);
  }
  console.log(`${artifacts.size} artifacts match the sources (solc ${compiler})`);
} else {
  mkdirSync(artifactsDir, { recursive: true });
  for (const [name, text] of artifacts) {
    writeFileSync(join(artifactsDir, `${name}.json`), text);
  }
  console.log(`wrote ${artifacts.size} artifacts to ${relative(repoRoot, artifactsDir)} (solc ${compiler})`);
}
