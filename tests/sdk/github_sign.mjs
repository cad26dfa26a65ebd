// Octokit (@octokit/webhooks-methods) as GitHub, the sender: `node github_sign.mjs SECRET < body`
// prints the headers of a delivery whose signature is Octokit's `sign`; the event and delivery
// id headers are the ones GitHub's docs say every delivery carries.
import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { body, printHeaders } from "./_sdkio.mjs";

const secret = process.argv[2];
printHeaders([
  ["X-GitHub-Event", "ping"],
  ["X-GitHub-Delivery", randomUUID()],
  ["X-Hub-Signature-256", await sign(secret, (await body()).toString("utf8"))],
]);
