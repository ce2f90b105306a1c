//! The tokenizer's JSON config: `{"bins": 256, "column": "close"}`.
//!
//! Keys:
//! - `bins`: the most quantization bins `fit` learns, 1 to 65536 (default
//!   256). Fewer when the training data has fewer distinct values.
//! - `column`: in documents with several columns, the one holding the
//!   series: a header name (`"close"`) or a 1-based number (`2`, as `cut -f`
//!   and awk count). Default: the last column.
//!
//! A NULL, empty or `null` config means the defaults. An unknown or repeated
//! key, or a value of the wrong type or range, is MMG_ERR_CONFIG naming it.
//! A small JSON reader is written here because the crate has no dependencies.

use crate::abi::MMG_ERR_CONFIG;
use crate::host::{Error, Result};

pub const DEFAULT_BINS: u32 = 256;
pub const MAX_BINS: u32 = 65536;
/// Longest column name accepted (config and saved state alike).
pub const MAX_NAME_BYTES: usize = 1024;

/// Which column of a multi-column document holds the series.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    Last,
    /// 1-based.
    Number(u32),
    Name(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub bins: u32,
    pub column: Column,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bins: DEFAULT_BINS,
            column: Column::Last,
        }
    }
}

pub fn parse(text: &[u8]) -> Result<Config> {
    let mut config = Config::default();
    let mut p = Parser { s: text, pos: 0 };
    p.skip_ws();
    if p.pos == p.s.len() || p.s[p.pos..].starts_with(b"null") && p.rest_is_ws(4) {
        return Ok(config);
    }
    if !p.eat(b'{') {
        return Err(config_error(
            "the config must be a JSON object, e.g. {\"bins\": 256}",
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    p.skip_ws();
    if !p.eat(b'}') {
        loop {
            p.skip_ws();
            let key = p.string()?;
            p.skip_ws();
            if !p.eat(b':') {
                return Err(p.syntax("':' after a key"));
            }
            p.skip_ws();
            let value = p.value(0)?;
            if seen.contains(&key) {
                return Err(config_error(format!("the key \"{}\" appears twice", key)));
            }
            match key.as_str() {
                "bins" => config.bins = bins(&value)?,
                "column" => config.column = column(&value)?,
                _ => {
                    return Err(config_error(format!(
                        "unknown key {:?} (the keys are \"bins\" and \"column\")",
                        key
                    )))
                }
            }
            seen.push(key);
            p.skip_ws();
            if p.eat(b',') {
                continue;
            }
            if p.eat(b'}') {
                break;
            }
            return Err(p.syntax("',' or '}'"));
        }
    }
    if !p.rest_is_ws(0) {
        return Err(p.syntax("the end of the config after its object"));
    }
    Ok(config)
}

fn config_error(message: impl Into<String>) -> Error {
    Error::new(MMG_ERR_CONFIG, format!("config: {}", message.into()))
}

fn bins(value: &Value) -> Result<u32> {
    match value {
        Value::Number(x) if x.fract() == 0.0 && *x >= 1.0 && *x <= MAX_BINS as f64 => Ok(*x as u32),
        _ => Err(config_error(format!(
            "\"bins\" must be an integer from 1 to {}, not {}",
            MAX_BINS,
            value.describe()
        ))),
    }
}

fn column(value: &Value) -> Result<Column> {
    match value {
        Value::Number(x) if x.fract() == 0.0 && *x >= 1.0 && *x <= u32::MAX as f64 => {
            Ok(Column::Number(*x as u32))
        }
        Value::String(s) if !s.trim().is_empty() && s.len() <= MAX_NAME_BYTES => {
            Ok(Column::Name(s.trim().to_string()))
        }
        _ => Err(config_error(format!(
            "\"column\" must be a header name (a non-empty string of at most {} bytes) or a \
             column number from 1, not {}",
            MAX_NAME_BYTES,
            value.describe()
        ))),
    }
}

/// A JSON value, as much of it as the checks above need.
enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array,
    Object,
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(x) => x.to_string(),
            Value::String(s) => format!("{:?}", s),
            Value::Array => "an array".to_string(),
            Value::Object => "an object".to_string(),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

/// Deeper nesting than this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn rest_is_ws(&self, skip: usize) -> bool {
        self.s[(self.pos + skip).min(self.s.len())..]
            .iter()
            .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn syntax(&self, expected: &str) -> Error {
        Error::new(
            MMG_ERR_CONFIG,
            format!(
                "config: malformed JSON at byte {}: expected {}",
                self.pos, expected
            ),
        )
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.syntax("less deeply nested values"));
        }
        match self.s.get(self.pos) {
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'{') => {
                self.pos += 1;
                self.skip_ws();
                if !self.eat(b'}') {
                    loop {
                        self.skip_ws();
                        self.string()?;
                        self.skip_ws();
                        if !self.eat(b':') {
                            return Err(self.syntax("':' after a key"));
                        }
                        self.skip_ws();
                        self.value(depth + 1)?;
                        self.skip_ws();
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.syntax("',' or '}'"));
                        }
                    }
                }
                Ok(Value::Object)
            }
            Some(b'[') => {
                self.pos += 1;
                self.skip_ws();
                if !self.eat(b']') {
                    loop {
                        self.skip_ws();
                        self.value(depth + 1)?;
                        self.skip_ws();
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.syntax("',' or ']'"));
                        }
                    }
                }
                Ok(Value::Array)
            }
            Some(b't') if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Bool(true))
            }
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Bool(false))
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(Value::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            _ => Err(self.syntax("a value")),
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|x| x.is_finite())
            .map(Value::Number)
            .ok_or_else(|| {
                self.pos = start;
                self.syntax("a number")
            })
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.syntax("4 hex digits"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.syntax("4 hex digits"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.syntax("4 hex digits"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String> {
        if !self.eat(b'"') {
            return Err(self.syntax("a string"));
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = *self
                .s
                .get(self.pos)
                .ok_or_else(|| self.syntax("the end of a string"))?;
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self
                        .s
                        .get(self.pos)
                        .ok_or_else(|| self.syntax("an escape"))?;
                    self.pos += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(self.syntax("a valid escape")),
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let mut code = self.hex4()?;
                    if (0xd800..0xdc00).contains(&code) && self.s[self.pos..].starts_with(b"\\u") {
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..0xe000).contains(&low) {
                            return Err(self.syntax("a low surrogate"));
                        }
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    }
                    let ch =
                        char::from_u32(code).ok_or_else(|| self.syntax("a valid \\u escape"))?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.syntax("no control character in a string")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.syntax("UTF-8 text in a string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys() {
        assert_eq!(parse(b"").unwrap().bins, DEFAULT_BINS);
        assert_eq!(parse(b" null ").unwrap().column, Column::Last);
        let c = parse(br#"{"bins": 64, "column": "close"}"#).unwrap();
        assert_eq!((c.bins, c.column), (64, Column::Name("close".into())));
        assert_eq!(
            parse(br#"{"column": 2}"#).unwrap().column,
            Column::Number(2)
        );
        assert_eq!(
            parse(br#"{"column": "\u00e9t\u00e9"}"#).unwrap().column,
            Column::Name("été".into())
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert!(parse(br#"{"bins": 0}"#)
            .unwrap_err()
            .message
            .contains("\"bins\""));
        assert!(parse(br#"{"bins": 2.5}"#)
            .unwrap_err()
            .message
            .contains("\"bins\""));
        assert!(parse(br#"{"bin": 2}"#)
            .unwrap_err()
            .message
            .contains("unknown key \"bin\""));
        assert!(parse(br#"{"bins": 2, "bins": 3}"#)
            .unwrap_err()
            .message
            .contains("twice"));
        assert!(parse(br#"{"column": [1]}"#)
            .unwrap_err()
            .message
            .contains("an array"));
        assert!(parse(br#"{"bins": 2"#).is_err());
        assert!(parse(br#"{"bins": 2} x"#).is_err());
    }
}
