// Shopify's API library (@shopify/shopify-api) as the sender:
// `node shopify_sign.mjs SECRET [events] < body` prints the headers of a delivery whose HMAC is
// the library's own test helper `getHmac`, with the header names the library's validator reads:
// `ShopifyHeader` (webhooks, `X-Shopify-*`) or, with `events`, `ShopifyEventsHeader`
// (the newer Events deliveries, `shopify-*`).
import { randomUUID } from "node:crypto";
import { ShopifyEventsHeader, ShopifyHeader } from "@shopify/shopify-api";
import { getHmac } from "@shopify/shopify-api/test-helpers";
import { body, printHeaders } from "./_sdkio.mjs";

const [secret, form] = process.argv.slice(2);
const hmac = getHmac((await body()).toString("utf8"), secret);
const names = form === "events" ? ShopifyEventsHeader : ShopifyHeader;
printHeaders([
  [names.Hmac, hmac],
  [names.Topic, "orders/create"],
  [names.Domain, "hookguard-test.myshopify.com"],
  [names.ApiVersion, "2026-01"],
  form === "events" ? [names.EventId, randomUUID()] : [names.WebhookId, randomUUID()],
]);
