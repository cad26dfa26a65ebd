// Shopify's API library (@shopify/shopify-api) as the receiver:
// `node shopify_verify.mjs SECRET 'Name: value'... < body` prints whether
// `shopify.webhooks.validate` accepts the delivery (HMAC and the headers it requires), offline.
import "@shopify/shopify-api/adapters/web-api";
import { ApiVersion, LogSeverity, shopifyApi } from "@shopify/shopify-api";
import { body, headers, verdict } from "./_sdkio.mjs";

const shopify = shopifyApi({
  apiKey: "hookguard-sdk-test",
  apiSecretKey: process.argv[2],
  hostName: "hooks.example.test",
  apiVersion: ApiVersion.January26,
  isEmbeddedApp: false,
  logger: { level: LogSeverity.Error },
});
const raw = await body();
const rawRequest = new Request("https://hooks.example.test/hook", {
  method: "POST",
  headers: headers(process.argv.slice(3)),
  body: raw,
});
const result = await shopify.webhooks.validate({ rawBody: raw.toString("utf8"), rawRequest });
verdict(result.valid, result.reason);
