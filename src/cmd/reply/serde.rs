//! A user's struct from a reply, with serde (feature `serde`): [`Json`] for a
//! string holding a JSON document, [`Hash`] for a hash (`HGETALL`), each
//! field of the struct read from the hash field of the same name.
//!
//! Writing goes the other way: [`Json::encode`] gives the bytes to `SET`,
//! [`Hash::to_fields`] the field-value pairs to `HSET`, so a struct round
//! trips. Not here: other reply types (`reply`, `collections`). Pure.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::Serialize;

use super::FromReply;
use crate::error::Error;
use crate::resp::Frame;

/// A JSON document in a string value: `GET` it as `Json<MyStruct>`.
///
/// ```no_run
/// # async fn f(client: &redwire::Client) -> redwire::Result<()> {
/// use redwire::cmd::Json;
/// use redwire::commands::*;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct User { name: String, age: u32 }
///
/// let user = User { name: "ann".into(), age: 41 };
/// client.set("user:1", Json(&user).encode()?).await?;
/// let Json(back): Json<User> = client.query(&redwire::cmd("GET").arg("user:1")).await?;
/// # Ok(()) }
/// ```
///
/// A missing key is a null reply: ask for `Option<Json<T>>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> Json<T> {
    /// The JSON text of the value, to send as one argument.
    ///
    /// # Errors
    /// [`Error::Type`] when serde_json cannot encode the value (a map with
    /// keys that are not strings, a `Serialize` impl that fails).
    pub fn encode(&self) -> Result<Bytes, Error> {
        serde_json::to_vec(&self.0)
            .map(Bytes::from)
            .map_err(|e| Error::Type { expected: "a value serde_json can encode", got: e.to_string() })
    }
}

/// A bulk string parsed as JSON into `T`.
impl<T: DeserializeOwned> FromReply for Json<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let text = Bytes::from_reply(frame)?;
        serde_json::from_slice(&text)
            .map(Json)
            .map_err(|e| Error::Type { expected: "JSON of the requested type", got: e.to_string() })
    }
}

/// A struct stored as a hash, one field per struct field: `HGETALL` it as
/// `Hash<MyStruct>`, write it with [`Hash::to_fields`].
///
/// Hash values are text; each is read as the struct field's type asks:
/// numbers and booleans (`1`/`0`/`true`/`false`) parsed, strings as they
/// are, a unit enum variant by name, nested structs, sequences and maps as
/// JSON text. A field missing from the hash is `None` for an `Option` (or
/// the `#[serde(default)]`), otherwise an error. Hash fields the struct does
/// not name are ignored (unless it says `deny_unknown_fields`). A missing key
/// is an empty hash: all its fields are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash<T>(pub T);

impl<T: Serialize> Hash<T> {
    /// The field-value pairs of the struct, for `HSET key` (as one argument
    /// each, in the struct's order). `None` fields are left out; nested
    /// values are JSON text.
    ///
    /// # Errors
    /// [`Error::Type`] when the value does not serialize to a JSON object
    /// (it is not a struct or a map with string keys).
    pub fn to_fields(&self) -> Result<Vec<(String, Bytes)>, Error> {
        let value = serde_json::to_value(&self.0)
            .map_err(|e| Error::Type { expected: "a value serde_json can encode", got: e.to_string() })?;
        let serde_json::Value::Object(fields) = value else {
            return Err(Error::Type {
                expected: "a struct or a map with string keys",
                got: "another kind of value".into(),
            });
        };
        let mut out = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => Bytes::from(s),
                serde_json::Value::Bool(b) => Bytes::from_static(if b { b"1" } else { b"0" }),
                serde_json::Value::Number(n) => Bytes::from(n.to_string()),
                nested => Bytes::from(nested.to_string()),
            };
            out.push((name, text));
        }
        Ok(out)
    }
}

/// A hash reply (RESP3 map or RESP2 flat array) deserialized into `T`.
impl<T: DeserializeOwned> FromReply for Hash<T> {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let pairs: Vec<(Bytes, Bytes)> = FromReply::from_reply(frame)?;
        let fields =
            pairs.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), FieldValue(v)));
        T::deserialize(de::value::MapDeserializer::<_, DeError>::new(fields))
            .map(Hash)
            .map_err(|e| Error::Type { expected: "a hash matching the struct", got: e.0 })
    }
}

/// Why a hash did not fit the struct.
#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        DeError(msg.to_string())
    }
}

/// One hash value, read as the struct field's type asks.
struct FieldValue(Bytes);

impl FieldValue {
    fn text(&self) -> Result<&str, DeError> {
        std::str::from_utf8(&self.0).map_err(|_| DeError("a hash value is not UTF-8 text".into()))
    }

    fn parse<N: std::str::FromStr>(&self, what: &str) -> Result<N, DeError> {
        let text = self.text()?;
        text.trim().parse().map_err(|_| DeError(format!("{text:?} is not {what}")))
    }

    /// A sequence, map, struct or enum written as JSON text.
    /// (A reader, not a slice: what the visitor builds must not borrow from the reply.)
    fn json(&self) -> serde_json::Deserializer<serde_json::de::IoRead<&[u8]>> {
        serde_json::Deserializer::from_reader(&self.0[..])
    }
}

fn json_err(e: serde_json::Error) -> DeError {
    DeError(format!("invalid JSON in a hash value: {e}"))
}

impl<'de> IntoDeserializer<'de, DeError> for FieldValue {
    type Deserializer = FieldValue;

    fn into_deserializer(self) -> FieldValue {
        self
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.parse::<$t>(concat!("a number (", stringify!($t), ")"))?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for FieldValue {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => visitor.visit_str(text),
            Err(_) => visitor.visit_bytes(&self.0),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.text()?.trim() {
            "1" | "true" | "TRUE" | "True" => visitor.visit_bool(true),
            "0" | "false" | "FALSE" | "False" => visitor.visit_bool(false),
            other => Err(DeError(format!("{other:?} is not a boolean"))),
        }
    }

    parse_number!(
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16, deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64, deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_u128 visit_u128 u128,
        deserialize_f32 visit_f32 f32, deserialize_f64 visit_f64 f64
    );

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.text()?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(DeError(format!("{text:?} is not one character"))),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(&self.0)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_byte_buf(self.0.to_vec())
    }

    /// A field present in the hash is `Some`; a missing one never gets here.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(&mut self.json(), visitor).map_err(json_err)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_tuple(&mut self.json(), len, visitor).map_err(json_err)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_tuple_struct(&mut self.json(), name, len, visitor).map_err(json_err)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(&mut self.json(), visitor).map_err(json_err)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(&mut self.json(), name, fields, visitor).map_err(json_err)
    }

    /// A unit variant by its name (`Active`); other variants as JSON (`{"Moved":"x"}`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if self.0.first() == Some(&b'{') {
            return de::Deserializer::deserialize_enum(&mut self.json(), name, variants, visitor)
                .map_err(json_err);
        }
        let text: &str = self.text()?;
        IntoDeserializer::<DeError>::into_deserializer(text).deserialize_enum(name, variants, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Status {
        Active,
        Moved(String),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct User {
        name: String,
        age: u32,
        admin: bool,
        score: f64,
        nick: Option<String>,
        tags: Vec<String>,
        limits: BTreeMap<String, i64>,
        status: Status,
        moved: Status,
    }

    fn user() -> User {
        User {
            name: "ann".into(),
            age: 41,
            admin: true,
            score: -2.5,
            nick: None,
            tags: vec!["a".into(), "b".into()],
            limits: [("x".to_string(), 3)].into_iter().collect(),
            status: Status::Active,
            moved: Status::Moved("elsewhere".into()),
        }
    }

    fn bulk(b: impl Into<Bytes>) -> Frame {
        Frame::BulkString(b.into())
    }

    #[test]
    fn a_struct_round_trips_through_hash_fields() {
        let fields = Hash(&user()).to_fields().unwrap();
        assert!(!fields.iter().any(|(k, _)| k == "nick"), "None is left out");
        let flat =
            Frame::Array(fields.iter().flat_map(|(k, v)| [bulk(k.clone()), bulk(v.clone())]).collect());
        let map = Frame::Map(fields.iter().map(|(k, v)| (bulk(k.clone()), bulk(v.clone()))).collect());
        for frame in [flat, map] {
            let Hash(back): Hash<User> = FromReply::from_reply(frame).unwrap();
            assert_eq!(back, user());
        }
    }

    #[test]
    fn hash_mismatches_are_typed_errors() {
        let frame = Frame::Array(vec![bulk("name"), bulk("ann"), bulk("age"), bulk("old")]);
        match Hash::<User>::from_reply(frame) {
            Err(Error::Type { expected, got }) => {
                assert_eq!(expected, "a hash matching the struct");
                assert!(got.contains("\"old\" is not a number"), "{got}");
            }
            other => panic!("{other:?}"),
        }
        let empty = Frame::Array(vec![]);
        match Hash::<User>::from_reply(empty) {
            Err(Error::Type { got, .. }) => assert!(got.contains("missing field"), "{got}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_strings() {
        let text = Json(&user()).encode().unwrap();
        let Json(back): Json<User> = FromReply::from_reply(bulk(text)).unwrap();
        assert_eq!(back, user());
        let none: Option<Json<User>> = FromReply::from_reply(Frame::NullBulk).unwrap();
        assert!(none.is_none());
        assert!(matches!(Json::<User>::from_reply(bulk("{")), Err(Error::Type { .. })));
    }
}
