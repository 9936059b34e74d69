// typage (npm age-encryption 0.3.1) as an independent age implementation for
// the post-quantum interop tests (tests/pq.rs). Secrets never go in argv:
// identities are read from a file, payloads from stdin.
//
//   node pq.mjs keygen               -> identity line, then recipient line
//   node pq.mjs encrypt RECIPIENT    stdin payload -> armored age file
//   node pq.mjs decrypt ID_FILE      stdin armored age file -> payload
//
// NSEC_TEST_NODE_MODULES names the node_modules directory holding
// age-encryption (scripts/test.sh installs it in .test-tools/node_modules).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.NSEC_TEST_NODE_MODULES;
if (!modules) {
  console.error("NSEC_TEST_NODE_MODULES is not set");
  process.exit(2);
}
const age = await import(
  pathToFileURL(join(modules, "age-encryption", "dist", "index.js")).href
);

const stdin = () => new Uint8Array(readFileSync(0));
const [command, arg] = process.argv.slice(2);

if (command === "keygen") {
  const identity = await age.generateHybridIdentity();
  const recipient = await age.identityToRecipient(identity);
  process.stdout.write(`${identity}\n${recipient}\n`);
} else if (command === "encrypt") {
  const e = new age.Encrypter();
  e.addRecipient(arg);
  process.stdout.write(age.armor.encode(await e.encrypt(stdin())));
} else if (command === "decrypt") {
  const d = new age.Decrypter();
  for (const line of readFileSync(arg, "utf8").split("\n")) {
    if (line.startsWith("AGE-SECRET-KEY-")) d.addIdentity(line.trim());
  }
  const text = new TextDecoder().decode(stdin());
  process.stdout.write(await d.decrypt(age.armor.decode(text)));
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
