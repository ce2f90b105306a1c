//! Reading a series out of a CSV document, and writing one.
//!
//! The rules (README.md repeats them for users):
//! - UTF-8 text; a leading byte-order mark is skipped; lines end with `\n`
//!   or `\r\n`. Blank lines and lines starting with `#` are skipped.
//! - Fields are separated by commas and trimmed of spaces and tabs; a field
//!   in double quotes may hold commas, and `""` stands for one quote.
//! - The first line is a header when none of its fields is a number.
//! - A document with one column is that column. With several, `column`
//!   (config) picks one, by header name or 1-based number; by default the
//!   last. Every line must have as many fields as the first.
//! - Each value must be a finite number as Rust's `f64::from_str` reads it
//!   (`12`, `-0.5`, `1e-3`, `+.5`); other columns are not looked at.
//!
//! Every error names the line (1-based, counting every line of the file).

use std::borrow::Cow;
use std::fmt::Write;

use crate::abi::{MMG_ERR_FORMAT, MMG_ERR_NOMEM};
use crate::config::Column;
use crate::host::{Error, Result};

/// The header `write_series` gives a column it has no name for.
pub const DEFAULT_HEADER: &str = "value";

/// The values of the chosen column, in order.
pub fn read_series(doc: &[u8], column: &Column) -> Result<Vec<f64>> {
    let doc = doc.strip_prefix(b"\xef\xbb\xbf").unwrap_or(doc);
    let mut values: Vec<f64> = Vec::new();
    // A rough count of lines, so that one reservation (which can fail
    // cleanly, unlike growing) holds the whole series.
    let lines = doc.iter().filter(|&&b| b == b'\n').count() + 1;
    values
        .try_reserve_exact(lines)
        .map_err(|_| Error::new(MMG_ERR_NOMEM, format!("out of memory for {} values", lines)))?;

    let mut layout: Option<Layout> = None;
    let mut saw_header = false;
    for (index, raw) in doc.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw)
            .map_err(|_| format_error(line_no, "is not UTF-8 text".to_string()))?;
        let trimmed = trim(line);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_fields(line).map_err(|why| format_error(line_no, why))?;
        let layout = match &layout {
            Some(l) => l,
            None => {
                let is_header = fields.iter().all(|f| f.parse::<f64>().is_err());
                layout = Some(Layout::choose(&fields, is_header, column, line_no)?);
                if is_header {
                    saw_header = true;
                    continue;
                }
                layout.as_ref().unwrap()
            }
        };
        if fields.len() != layout.n_fields {
            return Err(format_error(
                line_no,
                format!(
                    "has {} field{}, but line {} has {}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" },
                    layout.first_line,
                    layout.n_fields
                ),
            ));
        }
        let field = &fields[layout.index];
        let at = if layout.n_fields > 1 {
            format!(" (column {})", layout.index + 1)
        } else {
            String::new()
        };
        if field.is_empty() {
            return Err(format_error(line_no, format!("the value{} is empty", at)));
        }
        let value: f64 = field.parse().map_err(|_| {
            format_error(line_no, format!("{} is not a number{}", shown(field), at))
        })?;
        if !value.is_finite() {
            return Err(format_error(
                line_no,
                format!("{} is not a finite number{}", shown(field), at),
            ));
        }
        // + 0.0 turns -0 into 0, so that equal values compare and sort as one.
        values.push(value + 0.0);
    }
    if values.is_empty() {
        let why = if saw_header {
            "the document has a header line but no values"
        } else {
            "the document holds no values (it is empty, or only blank and # lines)"
        };
        return Err(Error::new(
            MMG_ERR_FORMAT,
            format!("{}; a series needs at least one", why),
        ));
    }
    Ok(values)
}

/// Which field of each line holds the value; fixed by the first line.
struct Layout {
    n_fields: usize,
    index: usize,
    first_line: usize,
}

impl Layout {
    fn choose(
        fields: &[Cow<str>],
        is_header: bool,
        column: &Column,
        line_no: usize,
    ) -> Result<Layout> {
        let n = fields.len();
        let index = match column {
            _ if n == 1 => 0,
            Column::Last => n - 1,
            Column::Number(k) => {
                let k = *k as usize;
                if k > n {
                    return Err(format_error(
                        line_no,
                        format!("has {} fields; the config asks for column {}", n, k),
                    ));
                }
                k - 1
            }
            Column::Name(name) => {
                if !is_header {
                    return Err(format_error(
                        line_no,
                        format!(
                            "holds numbers, not a header; the config names the column {:?}, \
                             which needs a header line",
                            name
                        ),
                    ));
                }
                match fields.iter().position(|f| f == name) {
                    Some(i) => i,
                    None => {
                        let mut names = String::new();
                        for f in fields.iter().take(8) {
                            let _ = write!(
                                names,
                                "{}{}",
                                if names.is_empty() { "" } else { ", " },
                                shown(f)
                            );
                        }
                        if n > 8 {
                            names.push_str(", ...");
                        }
                        return Err(format_error(
                            line_no,
                            format!("the header has no column {:?} (it has {})", name, names),
                        ));
                    }
                }
            }
        };
        Ok(Layout {
            n_fields: n,
            index,
            first_line: line_no,
        })
    }
}

fn format_error(line_no: usize, why: String) -> Error {
    Error::new(MMG_ERR_FORMAT, format!("line {}: {}", line_no, why))
}

/// A field as it appears in messages: quoted, escaped, at most 40 characters.
fn shown(field: &str) -> String {
    match field.char_indices().nth(40) {
        Some((cut, _)) => format!("{:?}...", &field[..cut]),
        None => format!("{:?}", field),
    }
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Splits one line into trimmed, unquoted fields.
fn split_fields(line: &str) -> std::result::Result<Vec<Cow<'_, str>>, String> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let start = trim(rest);
        if let Some(quoted) = start.strip_prefix('"') {
            // A quoted field: up to the closing quote, "" being a quote.
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            let after = loop {
                match chars.next() {
                    None => return Err("a quoted field has no closing quote".to_string()),
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            text.push('"');
                            chars.next();
                        } else {
                            break &quoted[i + 1..];
                        }
                    }
                    Some((_, c)) => text.push(c),
                }
            };
            fields.push(Cow::Owned(text));
            let after = trim(after);
            if after.is_empty() {
                break;
            }
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None => {
                    return Err(
                        "a quoted field is followed by text before the next comma".to_string()
                    )
                }
            }
        } else {
            match start.find(',') {
                Some(comma) => {
                    fields.push(Cow::Borrowed(trim(&start[..comma])));
                    rest = &start[comma + 1..];
                }
                None => {
                    fields.push(Cow::Borrowed(start));
                    break;
                }
            }
        }
    }
    Ok(fields)
}

/// A header line that reads back as a header: the name quoted when CSV needs
/// it, and "value" instead of a name that would read as a number.
pub fn header_line(name: Option<&str>, out: &mut String) {
    match name {
        Some(n) if n.parse::<f64>().is_err() => {
            if n.contains([',', '"', '\n', '\r']) || n != trim(n) || n.starts_with('#') {
                out.push('"');
                out.push_str(&n.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(n);
            }
        }
        _ => out.push_str(DEFAULT_HEADER),
    }
    out.push('\n');
}

/// Appends the shortest text that reads back as the same f64; exponent
/// notation only for very large or small magnitudes.
pub fn write_number(x: f64, out: &mut String) {
    let a = x.abs();
    let _ = if x == 0.0 || (1e-5..1e16).contains(&a) {
        write!(out, "{}", x)
    } else {
        write!(out, "{:e}", x)
    };
}

pub fn number(x: f64) -> String {
    let mut s = String::new();
    write_number(x, &mut s);
    s
}

/// One value per line.
pub fn push_value(x: f64, out: &mut String) {
    write_number(x, out);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(doc: &str) -> Result<Vec<f64>> {
        read_series(doc.as_bytes(), &Column::Last)
    }

    #[test]
    fn single_column_with_and_without_header() {
        assert_eq!(read("1\n2.5\n-3\n").unwrap(), vec![1.0, 2.5, -3.0]);
        assert_eq!(
            read("\u{feff}value\r\n1\r\n\r\n# note\n2\n").unwrap(),
            vec![1.0, 2.0]
        );
    }

    #[test]
    fn columns_by_default_name_and_number() {
        let doc = "date,open,\"close, adj\"\n2024-01-01,1,2\n2024-01-02,3,4\n";
        assert_eq!(read(doc).unwrap(), vec![2.0, 4.0]);
        let by_name = read_series(doc.as_bytes(), &Column::Name("open".into())).unwrap();
        assert_eq!(by_name, vec![1.0, 3.0]);
        let quoted = read_series(doc.as_bytes(), &Column::Name("close, adj".into())).unwrap();
        assert_eq!(quoted, vec![2.0, 4.0]);
        assert_eq!(
            read_series(doc.as_bytes(), &Column::Number(2)).unwrap(),
            vec![1.0, 3.0]
        );
        // data with a date column and no header: the last column by default
        assert_eq!(
            read("2024-01-01, 7\n2024-01-02, 8").unwrap(),
            vec![7.0, 8.0]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = read("value\n1\n2\nabc\n").unwrap_err();
        assert_eq!(e.message, "line 4: \"abc\" is not a number");
        assert!(read("1\nnan\n")
            .unwrap_err()
            .message
            .starts_with("line 2: \"nan\" is not a finite"));
        assert!(read("1\ninf\n").unwrap_err().message.contains("finite"));
        assert!(read("").unwrap_err().message.contains("no values"));
        assert!(read("value\n")
            .unwrap_err()
            .message
            .contains("header line but no values"));
        assert!(read("a,b\n1,2\n3\n")
            .unwrap_err()
            .message
            .starts_with("line 3: has 1 field, but line 1 has 2"));
        assert!(read("a,b\n1,\n").unwrap_err().message.contains("empty"));
        assert!(read("\"1\n").unwrap_err().message.contains("closing quote"));
        assert!(read_series(b"1\n\xff\n", &Column::Last)
            .unwrap_err()
            .message
            .starts_with("line 2"));
        let e = read_series(b"x,y\n1,2\n", &Column::Name("z".into())).unwrap_err();
        assert!(e.message.contains("no column \"z\""));
        assert!(read_series(b"1,2\n", &Column::Number(3))
            .unwrap_err()
            .message
            .contains("column 3"));
    }

    #[test]
    fn written_values_read_back_exactly() {
        let xs = [0.1, -2.0, 1e-9, 123456.789, 3e20, -0.0];
        let mut doc = String::new();
        header_line(Some("a,b"), &mut doc);
        for x in xs {
            push_value(x, &mut doc);
        }
        assert!(doc.starts_with("\"a,b\"\n"));
        assert_eq!(
            read(&doc).unwrap(),
            xs.iter().map(|x| x + 0.0).collect::<Vec<_>>()
        );
    }
}
