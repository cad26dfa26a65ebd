//! Microsoft Graph change notifications carry no signature: each notification in the body's
//! `value` array repeats the `clientState` the subscriber chose, a shared secret. This reads
//! those values; `check` compares each with the active secrets in constant time.

use serde::Deserialize;

use crate::verify::reason::Reason;

#[derive(Deserialize)]
struct Collection {
    value: Vec<serde_json::Value>,
}

/// Every notification's `clientState`, in body order. A body that is not a JSON object with a
/// `value` array is `Malformed`; an empty array or a notification without a string
/// `clientState` is `Missing`, so a notification can never pass by leaving it out.
pub fn client_states(body: &[u8]) -> Result<Vec<String>, Reason> {
    let collection: Collection = serde_json::from_slice(body).map_err(|_| Reason::Malformed)?;
    if collection.value.is_empty() {
        return Err(Reason::Missing);
    }
    collection
        .value
        .iter()
        .map(|n| {
            n.get("clientState")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or(Reason::Missing)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notification_gives_its_client_state_in_order() {
        // The change notification example of Microsoft's docs, with a second notification.
        let body = br#"{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"{subscription_guid}","subscriptionExpirationDateTime":"2016-03-19T22:11:09.952Z","clientState":"secretClientValue","changeType":"created","resource":"users/{user_guid}@{tenant_guid}/messages/{long_id_string}","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"},{"clientState":"other","changeType":"updated"}]}"#;
        assert_eq!(
            client_states(body),
            Ok(vec!["secretClientValue".to_owned(), "other".to_owned()])
        );
    }

    #[test]
    fn a_notification_without_client_state_or_a_body_without_value_never_passes() {
        let missing = br#"{"value":[{"clientState":"a"},{"changeType":"created"}]}"#;
        assert_eq!(client_states(missing), Err(Reason::Missing));
        assert_eq!(
            client_states(br#"{"value":[{"clientState":7}]}"#),
            Err(Reason::Missing)
        );
        assert_eq!(client_states(br#"{"value":[]}"#), Err(Reason::Missing));
        assert_eq!(client_states(br#"{"values":[]}"#), Err(Reason::Malformed));
        assert_eq!(client_states(b"not json"), Err(Reason::Malformed));
        assert_eq!(client_states(b""), Err(Reason::Malformed));
    }
}
