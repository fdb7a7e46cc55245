//! A record's canonical document as the engines keep it: the JSON text it is stored as, parsed
//! only when something reads into it. A GET, a page of a list and the answer to a change copy the
//! text into the response ([`crate::render::resource_text`]); a filter, a PATCH or a view parses it
//! once, on first use. A document made in memory is written out once, on first use, and that text
//! is what the engine stores and the answer copies. A text read with whitespace between its
//! tokens (a copy of a store edited by hand, then imported) is kept as it was read: answers that
//! copy it stay the same JSON, only not compact.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// A canonical document (a JSON object), as text, as a value, or both; each made from the other
/// on first use. It reads as a [`Value`] (`Deref`); it is never changed in place, so its copies
/// share one text and one value (a copy for the store's write and one for the answer cost one
/// serialisation).
#[derive(Clone)]
pub struct Doc(Arc<Forms>);

struct Forms {
    text: OnceLock<Text>,
    value: OnceLock<Value>,
}

/// A document's JSON text: written or read by serde_json, or read back from where an engine
/// stored it, not checked again.
enum Text {
    Json(Box<RawValue>),
    Stored(Box<str>),
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Json(raw) => raw.get(),
            Text::Stored(text) => text,
        }
    }
}

impl Doc {
    /// A document made in memory.
    pub fn new(value: Value) -> Doc {
        Doc(Arc::new(Forms {
            text: OnceLock::new(),
            value: OnceLock::from(value),
        }))
    }

    /// A document read from its JSON text, which is parsed only when read into.
    pub fn from_text(text: Box<RawValue>) -> Doc {
        Doc::of_text(Text::Json(text))
    }

    /// A document read back from the text an engine stored from [`Doc::text`], without checking
    /// it again: an engine whose records hold the document's text apart from their bookkeeping
    /// hands it over as it was written, with no scan. It is parsed only when read into; a text
    /// that does not parse (a store damaged by hand) reads as no document.
    pub fn from_stored(text: String) -> Doc {
        Doc::of_text(Text::Stored(text.into_boxed_str()))
    }

    fn of_text(text: Text) -> Doc {
        Doc(Arc::new(Forms {
            text: OnceLock::from(text),
            value: OnceLock::new(),
        }))
    }

    /// The document as a value, parsed from its text on first use.
    pub fn value(&self) -> &Value {
        self.0
            .value
            .get_or_init(|| parse(self.0.text.get().map(Text::as_str)))
    }

    /// The document as JSON text, written from its value on first use.
    pub fn text(&self) -> &str {
        self.written().as_str()
    }

    fn written(&self) -> &Text {
        self.0.text.get_or_init(|| {
            let value = self.0.value.get().unwrap_or(&Value::Null);
            Text::Json(serde_json::value::to_raw_value(value).unwrap_or_else(|_| empty_object()))
        })
    }

    /// The document as an owned value (parsed from its text if never read; taken without a copy
    /// when this is its only holder).
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(forms) => forms
                .value
                .into_inner()
                .unwrap_or_else(|| parse(forms.text.get().map(Text::as_str))),
            Err(shared) => Doc(shared).value().clone(),
        }
    }
}

/// A document's text as a value. The text was written by serde_json from a value, so it parses;
/// a text that does not (a store edited by hand) reads as no document rather than a panic.
fn parse(text: Option<&str>) -> Value {
    serde_json::from_str(text.unwrap_or("null")).unwrap_or(Value::Null)
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_string()).expect("`{}` is JSON")
}

impl From<Value> for Doc {
    fn from(value: Value) -> Doc {
        Doc::new(value)
    }
}

impl Deref for Doc {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.value() == other.value()
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.value(), f)
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written once and kept: the answer that follows a write copies the same text. A text
        // read back from a store is checked here (it is trusted only to be copied into answers),
        // so that what is serialised is JSON; one that is not reads as no document.
        match self.written() {
            Text::Json(raw) => raw.serialize(s),
            Text::Stored(text) => match RawValue::from_string(text.to_string()) {
                Ok(raw) => raw.serialize(s),
                Err(_) => Value::Null.serialize(s),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        // serde_json hands over the text as it is (from a `Value`, as its text).
        Ok(Doc::from_text(Box::<RawValue>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_read_from_text_is_copied_out_as_it_was_read() {
        let stored = r#"{"doc":{"schemas":["urn:x"],"userName":"ada","name":{"givenName":"Ada"}}}"#;
        #[derive(Serialize, Deserialize)]
        struct Holder {
            doc: Doc,
        }
        let held: Holder = serde_json::from_str(stored).expect("test value");
        assert!(held.doc.0.value.get().is_none(), "not parsed until read");
        assert_eq!(serde_json::to_string(&held).expect("test value"), stored);
        assert_eq!(held.doc["name"]["givenName"], "Ada");
        assert_eq!(
            held.doc.text(),
            r#"{"schemas":["urn:x"],"userName":"ada","name":{"givenName":"Ada"}}"#
        );
    }

    #[test]
    fn a_document_made_in_memory_is_written_once_and_equals_its_reading() {
        let doc = Doc::new(json!({"userName": "ada", "active": true}));
        assert_eq!(doc.text(), r#"{"userName":"ada","active":true}"#);
        let back: Doc = serde_json::from_str(doc.text()).expect("test value");
        assert_eq!(back, doc);
        assert_eq!(
            back.into_value(),
            json!({"userName": "ada", "active": true})
        );
        // Read from a value rather than text, it is that value.
        let from_value: Doc = serde_json::from_value(json!({"a": 1})).expect("test value");
        assert_eq!(from_value.value(), &json!({"a": 1}));
    }

    #[test]
    fn a_stored_text_is_copied_out_and_serialised_only_if_it_is_json() {
        let doc = Doc::from_stored(r#"{"userName":"ada"}"#.to_string());
        assert!(doc.0.value.get().is_none(), "not parsed until read");
        assert_eq!(doc.text(), r#"{"userName":"ada"}"#);
        assert_eq!(
            serde_json::to_string(&doc).expect("JSON"),
            r#"{"userName":"ada"}"#
        );
        assert_eq!(doc["userName"], "ada");
        let damaged = Doc::from_stored(r#"{"userName":"#.to_string());
        assert_eq!(serde_json::to_string(&damaged).expect("JSON"), "null");
        assert_eq!(damaged.value(), &Value::Null);
    }
}
