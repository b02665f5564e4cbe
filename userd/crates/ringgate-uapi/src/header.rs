//! A parser for the subset of C that ynl-gen-c writes into UAPI headers,
//! used only by the tests: they read the C header the kernel module builds
//! with and check that the constants generated from the YAML spec agree
//! with it, so the two generators cannot drift apart unnoticed.

/// A constant found in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
}

/// One enum of the header: its C name (None when anonymous) and entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum {
    pub name: Option<String>,
    pub entries: Vec<(String, i64)>,
}

/// Everything the header defines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Header {
    pub defines: Vec<(String, Value)>,
    pub enums: Vec<Enum>,
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start..].find("*/") {
            Some(end) => rest = &rest[start + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn parse_int(text: &str, known: &[(String, i64)]) -> Result<i64, String> {
    let text = text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if let Some((left, right)) = text.split_once(" - ") {
        return Ok(parse_int(left, known)? - parse_int(right, known)?);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).map_err(|e| format!("bad number {text:?}: {e}"));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    known
        .iter()
        .find(|(name, _)| name == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("unknown value {text:?}"))
}

/// Parses the header text.
pub fn parse(text: &str) -> Result<Header, String> {
    let text = strip_comments(text);
    let mut header = Header::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("#define ") {
            let mut parts = rest.splitn(2, char::is_whitespace);
            let name = parts.next().unwrap_or_default().to_string();
            let value = parts.next().unwrap_or_default().trim();
            if value.is_empty() {
                continue; // An include guard.
            }
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(s) => Value::Str(s.to_string()),
                None => Value::Int(parse_int(value, &[])?),
            };
            header.defines.push((name, value));
        } else if line.starts_with("enum") && line.ends_with('{') {
            let name = line.trim_start_matches("enum").trim_end_matches('{').trim();
            let mut entries: Vec<(String, i64)> = Vec::new();
            let mut next = 0i64;
            loop {
                let Some(entry) = lines.next() else {
                    return Err(format!("enum {name} is not closed"));
                };
                let entry = entry.trim();
                if entry.starts_with('}') {
                    break;
                }
                let entry = entry.trim_end_matches(',');
                if entry.is_empty() {
                    continue;
                }
                let (entry_name, value) = match entry.split_once('=') {
                    Some((n, v)) => (n.trim(), parse_int(v, &entries)?),
                    None => (entry, next),
                };
                entries.push((entry_name.to_string(), value));
                next = value + 1;
            }
            header.enums.push(Enum {
                name: (!name.is_empty()).then(|| name.to_string()),
                entries,
            });
        }
    }
    Ok(header)
}
