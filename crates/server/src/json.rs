//! The one strict JSON reader of the edges (the JSON API and FHIR): a duplicated key at any
//! depth is refused, naming its path, instead of serde_json's last-wins. A request body with
//! `{"value": "70 kg", "value": "7 kg"}` is ambiguous; whichever copy a reader keeps, another
//! reader (a proxy, a log, the client's own code) may have kept the other.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON reading error: the path of the offending element (`(body)` for a syntax error) and
/// what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub path: String,
    pub message: String,
}

/// Parses `bytes` as JSON, refusing a key that appears twice in one object (at any depth).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = std::cell::RefCell::new(None);
    let seed = Strict {
        path: String::new(),
        duplicate: &found,
    };
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match (parsed, found.into_inner()) {
        (_, Some(path)) => Err(JsonError {
            message: format!("a key given once; \"{path}\" appears twice in one object"),
            path,
        }),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(JsonError {
            path: "(body)".into(),
            message: e.to_string(),
        }),
    }
}

/// Reads one value at `path`; records the first duplicate key's path in `duplicate`.
struct Strict<'a> {
    path: String,
    duplicate: &'a std::cell::RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = Strict {
                path: format!("{}[{}]", self.path, items.len()),
                duplicate: self.duplicate,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if object.contains_key(&key) {
                self.duplicate.borrow_mut().get_or_insert(path.clone());
                return Err(de::Error::custom(format!("duplicate key {path}")));
            }
            let value = map.next_value_seed(Strict {
                path,
                duplicate: self.duplicate,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_is_refused_naming_it_at_any_depth() {
        let e = parse_strict(br#"{"value": "70 kg", "value": "7 kg"}"#).expect_err("dup");
        assert_eq!(e.path, "value");
        let e = parse_strict(br#"{"a": [{"b": {"c": 1, "c": 2}}]}"#).expect_err("nested");
        assert_eq!(e.path, "a[0].b.c");
    }

    #[test]
    fn ordinary_json_reads_as_serde_json_reads_it() {
        let text = br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": {"d": []}}"#;
        let strict = parse_strict(text).expect("valid");
        let plain: Value = serde_json::from_slice(text).expect("valid");
        assert_eq!(strict, plain);
        // The same key in two different objects is fine.
        assert!(parse_strict(br#"{"a": {"k": 1}, "b": {"k": 2}}"#).is_ok());
    }

    #[test]
    fn syntax_errors_and_trailing_text_are_refused() {
        assert_eq!(parse_strict(b"{").expect_err("eof").path, "(body)");
        assert!(parse_strict(br#"{"a": 1} x"#).is_err());
    }
}
