// Octokit (@octokit/webhooks-methods) as the receiver of GitHub deliveries:
// `node github_verify.mjs SECRET 'Name: value'... < body` prints whether Octokit's `verify`
// accepts the `X-Hub-Signature-256` header for the body.
import { verify } from "@octokit/webhooks-methods";
import { body, headers, verdict } from "./_sdkio.mjs";

const sent = Object.fromEntries(
  Object.entries(headers(process.argv.slice(3))).map(([k, v]) => [k.toLowerCase(), v]),
);
const signature = sent["x-hub-signature-256"];
if (!signature) verdict(false, "no X-Hub-Signature-256 header");
verdict(await verify(process.argv[2], (await body()).toString("utf8"), signature));
