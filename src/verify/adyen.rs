//! Adyen Standard notifications: every `NotificationRequestItem` carries
//! `additionalData.hmacSignature`, the base64 HMAC-SHA256, under the hex HMAC key, of
//! `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`
//! (absent fields empty, values unescaped), as Adyen's libraries compute it
//! (adyen-python-api-library `util.generate_notification_sig`).
//!
//! A notification may batch several items, each signed on its own. Adyen's helpers check one
//! item at a time (Python's only the first); hookguard forwards the whole batch, so every item
//! must verify, under the same key, or the delivery is rejected. The fields outside the
//! signing string (`additionalData`, `operations`, ...) are not signed by Adyen.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::verify::keyed::{self, Signed};
use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::reason::Reason;
use crate::verify::secret::Secret;

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "notificationItems")]
    items: Option<Vec<Wrapped>>,
}

#[derive(Deserialize)]
struct Wrapped {
    #[serde(rename = "NotificationRequestItem")]
    item: Option<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    psp_reference: Option<Value>,
    original_reference: Option<Value>,
    merchant_account_code: Option<Value>,
    merchant_reference: Option<Value>,
    amount: Option<Amount>,
    event_code: Option<Value>,
    success: Option<Value>,
    additional_data: Option<Additional>,
}

#[derive(Deserialize)]
struct Amount {
    value: Option<Value>,
    currency: Option<Value>,
}

#[derive(Deserialize)]
struct Additional {
    #[serde(rename = "hmacSignature")]
    hmac_signature: Option<String>,
}

/// Passes when one key verifies every item.
pub fn verify(keys: &[&Secret], body: &[u8]) -> Result<Arc<str>, Reason> {
    let parsed: Notification = serde_json::from_slice(body).map_err(|_| Reason::Malformed)?;
    let items = parsed.items.ok_or(Reason::Missing)?;
    if items.is_empty() {
        return Err(Reason::Missing);
    }
    let mut signed = Vec::with_capacity(items.len());
    for wrapped in items {
        let item = wrapped.item.ok_or(Reason::Malformed)?;
        let presented = item
            .additional_data
            .as_ref()
            .and_then(|a| a.hmac_signature.as_deref())
            .filter(|s| !s.is_empty())
            .ok_or(Reason::Missing)?;
        let tag = keyed::base64_tag(presented.as_bytes(), 32)?;
        signed.push((signing_string(&item)?, tag));
    }
    keys.iter()
        .find(|secret| {
            let mac = PreparedMac::new(Algorithm::Sha256, secret.key.expose());
            signed
                .iter()
                .all(|(text, tag)| mac.compute(&[text.as_bytes()]).matches(tag))
        })
        .map(|secret| secret.id.clone())
        .ok_or(Reason::Invalid)
}

/// The notification with every item's `additionalData.hmacSignature` set (keys re-serialized
/// in sorted order; the signed fields are unchanged).
pub fn sign(key: &[u8], body: &[u8]) -> Result<Signed, String> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let items = value
        .get_mut("notificationItems")
        .and_then(Value::as_array_mut)
        .ok_or("an Adyen notification has `notificationItems`")?;
    for wrapped in items {
        let item = wrapped
            .get_mut("NotificationRequestItem")
            .and_then(Value::as_object_mut)
            .ok_or("each notification item is a `NotificationRequestItem` object")?;
        let parsed: Item = serde_json::from_value(Value::Object(item.clone()))
            .map_err(|e| format!("a notification item cannot be read: {e}"))?;
        let text = signing_string(&parsed).map_err(|_| "a notification item needs `amount`")?;
        let sig = keyed::base64_mac(Algorithm::Sha256, key, &[text.as_bytes()]);
        let additional = item
            .entry("additionalData")
            .or_insert_with(|| Value::Object(Default::default()));
        let additional = additional
            .as_object_mut()
            .ok_or("`additionalData` is an object")?;
        additional.insert("hmacSignature".into(), Value::String(sig));
    }
    Ok(Signed {
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Some(serde_json::to_vec(&value).map_err(|e| e.to_string())?),
    })
}

/// The colon-joined fields; an item without `amount` cannot be signed (the SDKs fail on it).
fn signing_string(item: &Item) -> Result<String, Reason> {
    let amount = item.amount.as_ref().ok_or(Reason::Malformed)?;
    let fields = [
        &item.psp_reference,
        &item.original_reference,
        &item.merchant_account_code,
        &item.merchant_reference,
        &amount.value,
        &amount.currency,
        &item.event_code,
        &item.success,
    ];
    let texts = fields
        .iter()
        .map(|v| text(v.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(texts.join(":"))
}

/// A field as the signing string writes it: strings as they are, numbers and booleans as
/// JSON writes them, absent or null as empty.
fn text(value: Option<&Value>) -> Result<String, Reason> {
    Ok(match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(_) => return Err(Reason::Malformed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::secret::{Key, Window};

    /// adyen-python-api-library test/UtilTest.py `test_notification_request_item_hmac`.
    const KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
    const ITEM: &str = r#"{"pspReference":"7914073381342284","merchantReference":"TestPayment-1407325143704","merchantAccountCode":"TestMerchant","amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","success":"true","eventDate":"2019-05-06T17:15:34.121+02:00","operations":["CANCEL","CAPTURE","REFUND"],"paymentMethod":"visa","additionalData":{"hmacSignature":"coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="}}"#;

    fn secret() -> Secret {
        let key = hex::decode(KEY).expect("hex");
        Secret::new("k", Key::new(key), Window::default())
    }

    fn batch(items: &[&str]) -> Vec<u8> {
        let wrapped: Vec<String> = items
            .iter()
            .map(|i| format!(r#"{{"NotificationRequestItem":{i}}}"#))
            .collect();
        format!(
            r#"{{"live":"false","notificationItems":[{}]}}"#,
            wrapped.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn the_sdk_example_verifies_and_its_signing_string_is_the_documented_one() {
        let item: Item = serde_json::from_str(ITEM).expect("item");
        assert_eq!(
            signing_string(&item),
            Ok("7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true".into())
        );
        assert_eq!(verify(&[&secret()], &batch(&[ITEM])).as_deref(), Ok("k"));
    }

    #[test]
    fn every_item_of_a_batch_must_verify() {
        let bad = ITEM.replace("\"value\":1130", "\"value\":1131");
        assert_eq!(
            verify(&[&secret()], &batch(&[ITEM, ITEM])).as_deref(),
            Ok("k")
        );
        assert_eq!(
            verify(&[&secret()], &batch(&[ITEM, &bad])),
            Err(Reason::Invalid)
        );
        assert_eq!(verify(&[&secret()], &batch(&[])), Err(Reason::Missing));
        let unsigned = ITEM.replace("\"hmacSignature\"", "\"other\"");
        assert_eq!(
            verify(&[&secret()], &batch(&[&unsigned])),
            Err(Reason::Missing)
        );
    }

    #[test]
    fn sign_fills_every_item() {
        let key = hex::decode(KEY).expect("hex");
        let unsigned = ITEM.replace("coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=", "");
        let signed = sign(&key, &batch(&[&unsigned, &unsigned])).expect("signs");
        let body = signed.body.expect("body");
        assert_eq!(verify(&[&secret()], &body).as_deref(), Ok("k"));
        assert!(
            String::from_utf8_lossy(&body).contains("coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=")
        );
    }
}
