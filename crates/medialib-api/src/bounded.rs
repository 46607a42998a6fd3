//! `Text<MIN, MAX>`: a string whose length limits the spec states (`minLength`, and
//! `maxLength` unless `MAX` is 0), while the domain enforces them with its own error codes
//! (`invalid_tag`, `invalid_reason`, …). Parsing accepts any string, so that a value outside
//! the limits gets the same answer it always got, not a generic framework error.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

/// A string of `MIN` to `MAX` characters as documented (`MAX` 0: no upper limit stated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MIN: usize, const MAX: usize>(pub String);

impl<const MIN: usize, const MAX: usize> Type for Text<MIN, MAX> {
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

impl<const MIN: usize, const MAX: usize> ParseFromJSON for Text<MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<const MIN: usize, const MAX: usize> ParseFromParameter for Text<MIN, MAX> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

impl<const MIN: usize, const MAX: usize> ToJSON for Text<MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
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
        assert_eq!(parsed.ok(), Some(Text(long)));
        assert!(Text::<1, 64>::parse_from_json(Some(Value::Bool(true))).is_err());
    }
}
