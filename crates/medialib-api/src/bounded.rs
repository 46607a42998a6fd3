//! `Text<MIN, MAX>`: a string whose length limits the spec states (`minLength`, and
//! `maxLength` unless `MAX` is 0), while the domain enforces them with its own error codes
//! (`invalid_tag`, `invalid_reason`, …). Parsing accepts any string, so that a value outside
//! the limits gets the same answer it always got, not a generic framework error.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

/// A string of `MIN` to `MAX` characters as documented (`MAX` 0: no upper limit stated),
/// matching the pattern of `P` when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MIN: usize, const MAX: usize, P = Any>(pub String, PhantomData<P>);

impl<const MIN: usize, const MAX: usize, P> Text<MIN, MAX, P> {
    /// Wraps a string.
    pub fn new(text: String) -> Self {
        Self(text, PhantomData)
    }
}

/// The rule a documented string follows beyond its length: an ECMA-262 pattern that is also
/// a Python one (the spec's test generator reads it so), stating exactly what the domain's
/// parser accepts.
pub trait Pattern: Send + Sync + 'static {
    /// The pattern, if any.
    const REGEX: Option<&'static str>;
}

/// No pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Any;

impl Pattern for Any {
    const REGEX: Option<&'static str> = None;
}

/// Whitespace as Rust's `str::trim` knows it, outside the control characters.
macro_rules! space {
    () => {
        r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
/// Control characters (`char::is_control`).
macro_rules! control {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}

/// A positive decimal integer (a media id, a cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digits;

impl Pattern for Digits {
    const REGEX: Option<&'static str> = Some("^[1-9][0-9]{0,17}$");
}

/// A non-negative decimal integer (a changes feed cursor: 0 is the feed's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Natural;

impl Pattern for Natural {
    const REGEX: Option<&'static str> = Some("^(0|[1-9][0-9]{0,17})$");
}

/// A user id: no control character or `/`, no leading or trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName;

impl Pattern for UserName {
    const REGEX: Option<&'static str> = Some(concat!(
        "^[^/",
        control!(),
        space!(),
        "](?:[^/",
        control!(),
        "]*[^/",
        control!(),
        space!(),
        "])?$"
    ));
}

/// A tag: no control character or comma, no leading or trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName;

impl Pattern for TagName {
    const REGEX: Option<&'static str> = Some(concat!(
        "^[^,",
        control!(),
        space!(),
        "](?:[^,",
        control!(),
        "]*[^,",
        control!(),
        space!(),
        "])?$"
    ));
}

/// A reference name: no `/`, whitespace or control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefPattern;

impl Pattern for RefPattern {
    const REGEX: Option<&'static str> = Some(concat!("^[^/", control!(), space!(), "]+$"));
}

/// Text with at least one character that is not whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotBlank;

impl Pattern for NotBlank {
    const REGEX: Option<&'static str> = Some(concat!(r"[^\t\n\u000b\u000c\r\u0085", space!(), "]"));
}

/// A tenant slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug;

impl Pattern for Slug {
    const REGEX: Option<&'static str> = Some("^[a-z0-9][a-z0-9-]*$");
}

impl<const MIN: usize, const MAX: usize, P: Pattern> Type for Text<MIN, MAX, P> {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(MIN),
            max_length: (MAX > 0).then_some(MAX),
            pattern: P::REGEX.map(str::to_owned),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<const MIN: usize, const MAX: usize, P: Pattern> ParseFromJSON for Text<MIN, MAX, P> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Self::new(text)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<const MIN: usize, const MAX: usize, P: Pattern> ParseFromParameter for Text<MIN, MAX, P> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self::new(value.to_owned()))
    }
}

impl<const MIN: usize, const MAX: usize, P> std::ops::Deref for Text<MIN, MAX, P> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// An optional query parameter that, when given, is not empty (`?cursor=` is refused with the
/// parameter's own code, as any other unusable value).
pub type Param = Text<1, 0>;
/// A cursor or id parameter: a positive integer.
pub type Number = Text<1, 18, Digits>;
/// A changes feed cursor: 0 or a positive integer.
pub type Cursor = Text<1, 18, Natural>;
/// A user id parameter or field.
pub type User = Text<1, 128, UserName>;
/// A tenant slug parameter.
pub type Tenant = Text<1, 63, Slug>;

impl<const MIN: usize, const MAX: usize, P: Pattern> ToJSON for Text<MIN, MAX, P> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A count of 0 to `MAX` as documented; parsing takes any unsigned integer and leaves the
/// upper bound to the domain (which answers it with its own code, `invalid_settings`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<const MAX: u64>(pub u64);

impl<const MAX: u64> Count<MAX> {
    /// The value as a `u32`, saturated (the domain refuses anything above `MAX` anyway).
    pub fn saturating_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

impl<const MAX: u64> Type for Count<MAX> {
    const IS_REQUIRED: bool = true;

    type RawValueType = u64;
    type RawElementValueType = u64;

    fn name() -> Cow<'static, str> {
        "integer_uint32".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(0.0),
            maximum: Some(MAX as f64),
            ..MetaSchema::new_with_format("integer", "uint32")
        }))
    }

    fn as_raw_value(&self) -> Option<&u64> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a u64> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<const MAX: u64> ParseFromJSON for Count<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Number(number)) if number.as_u64().is_some() => {
                Ok(Self(number.as_u64().unwrap_or_default()))
            }
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<const MAX: u64> ToJSON for Count<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_states_the_limits_and_parsing_leaves_them_to_the_domain() {
        let MetaSchemaRef::Inline(schema) = Text::<1, 64>::schema_ref() else {
            panic!("an inline schema");
        };
        assert_eq!((schema.min_length, schema.max_length), (Some(1), Some(64)));
        let MetaSchemaRef::Inline(open) = Text::<1, 0>::schema_ref() else {
            panic!("an inline schema");
        };
        assert_eq!(open.max_length, None);
        let long = "x".repeat(100);
        let parsed = Text::<1, 64>::parse_from_json(Some(Value::String(long.clone())));
        assert_eq!(parsed.ok(), Some(Text::new(long)));
        assert!(Text::<1, 64>::parse_from_json(Some(Value::Bool(true))).is_err());
    }
}
