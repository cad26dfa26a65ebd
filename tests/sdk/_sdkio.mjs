// What every Node script here shares: the body on stdin, headers as `Name: value` arguments,
// and the verdict a verifier prints (`valid`, exit 0; `invalid: why`, exit 3). Any other exit
// (an uncaught error exits 1) means the script itself broke.

/** The delivery's body, exactly the bytes on stdin. */
export async function body() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `Name: value` arguments as an object (names as given). */
export function headers(args) {
  const pairs = {};
  for (const arg of args) {
    const at = arg.indexOf(":");
    if (at < 0) throw new Error(`not a \`Name: value\` header: ${JSON.stringify(arg)}`);
    pairs[arg.slice(0, at).trim()] = arg.slice(at + 1).trim();
  }
  return pairs;
}

/** Prints the headers a sender attaches, one `Name: value` a line (as `hookguard sign`). */
export function printHeaders(pairs) {
  for (const [name, value] of pairs) console.log(`${name}: ${value}`);
}

/** Prints the SDK's verdict and exits 0 (valid) or 3 (invalid). */
export function verdict(ok, why = "the SDK rejected it") {
  console.log(ok ? "valid" : `invalid: ${why}`);
  process.exit(ok ? 0 : 3);
}
