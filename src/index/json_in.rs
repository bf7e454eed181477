//! Pieces for reading upstream JSON straight into typed entries instead of a generic
//! tree. A typed reading that fails is always followed by the generic one, which names
//! what is wrong; so a typed reading must never accept a document the generic one
//! would read differently. These pieces keep the two in step where serde's defaults
//! would not.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};

/// A JSON object read into `T`. serde's derived structs also accept an array (the
/// fields by position), which the generic reading refuses as "not an object".
pub(crate) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjVisitor(PhantomData)).map(Obj)
    }
}

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<T>`: a key
/// given as `null` is read as a `T` (`Some(Value::Null)`, or an error for a map), not
/// as the `None` of a missing key, because the generic reading tells the two apart
/// (`a.or(b)` stops at a null `a`; a null `releases` is "not an object").
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A string that borrows from the document unless it has escapes. serde borrows a
/// `Cow` only as a struct field marked `borrow`, never inside an `Option`, a `Vec` or
/// a map, so those hold this instead.
#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(transparent)]
pub(crate) struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional [`Text`] as the `Option<&str>` the generic reading's `as_str` gives.
pub(crate) fn text<'t>(t: &'t Option<Text<'_>>) -> Option<&'t str> {
    t.as_ref().map(Text::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Pair {
        a: u64,
        #[serde(default, deserialize_with = "present")]
        b: Option<Value>,
    }

    #[test]
    fn an_object_is_read_and_an_array_is_refused() {
        let Obj(p) = serde_json::from_str::<Obj<Pair>>(r#"{"a": 1}"#).unwrap();
        assert_eq!((p.a, p.b), (1, None));
        assert!(
            serde_json::from_str::<Pair>("[1, 2]").is_ok(),
            "serde's own default"
        );
        assert!(serde_json::from_str::<Obj<Pair>>("[1, 2]").is_err());
    }

    #[test]
    fn text_borrows_unless_escaped() {
        let v: Vec<Text> = serde_json::from_str(r#"["plain", "a\/b"]"#).unwrap();
        assert!(matches!(v[0].0, Cow::Borrowed("plain")));
        assert!(matches!(&v[1].0, Cow::Owned(s) if s == "a/b"));
        let o: Option<Text> = serde_json::from_str(r#""x""#).unwrap();
        assert!(matches!(o.map(|t| t.0), Some(Cow::Borrowed("x"))));
    }

    #[test]
    fn a_null_key_is_present() {
        let Obj(p) = serde_json::from_str::<Obj<Pair>>(r#"{"a": 1, "b": null}"#).unwrap();
        assert_eq!(p.b, Some(Value::Null));
    }
}
