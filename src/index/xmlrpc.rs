//! XML-RPC codec for PyPI's legacy API (`POST /pypi`), both directions: vorpal calls
//! PyPI and also answers mirrors that still speak XML-RPC.
//!
//! Hostile input is refused, never expanded: any DTD (`<!DOCTYPE`), any entity other
//! than the five predefined ones and character references, and nesting deeper than
//! [`MAX_VALUE_DEPTH`] values.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::index::model::{ChangelogEntry, ListedProject};

mod base64;

/// Deepest array/struct nesting accepted in a document.
pub const MAX_VALUE_DEPTH: usize = 64;
/// Each value level costs up to three elements (`value`/`array`/`data`), plus the
/// envelope (`methodResponse`/`params`/`param`).
const MAX_ELEMENT_DEPTH: usize = 3 * MAX_VALUE_DEPTH + 8;

/// PyPI's fault code for "too many requests": back off and retry.
pub const FAULT_RATE_LIMITED: i64 = -32500;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Double(f64),
    Array(Vec<Value>),
    Struct(Vec<(String, Value)>),
    Nil,
    Base64(Vec<u8>),
    /// `dateTime.iso8601` text as sent (e.g. `20240102T03:04:05`).
    DateTime(String),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::Str(_) => "string",
            Value::Double(_) => "double",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
            Value::Base64(_) => "base64",
            Value::DateTime(_) => "dateTime.iso8601",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum XmlRpcError {
    #[error("XML-RPC fault {code}: {message}")]
    Fault { code: i64, message: String },
    #[error("XML-RPC document refused: {0}")]
    Refused(String),
    #[error("XML-RPC document is not well-formed XML: {0}")]
    Xml(String),
    #[error("XML-RPC document nests deeper than {MAX_VALUE_DEPTH} values; refusing it")]
    TooDeep,
    #[error("unexpected XML-RPC content: {0}")]
    Malformed(String),
    #[error(
        "XML-RPC result names an invalid project {0:?} (PEP 508 names match ^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$); refusing it"
    )]
    InvalidName(String),
}

impl XmlRpcError {
    /// PyPI answered fault -32500: it is rate-limiting this client.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, XmlRpcError::Fault { code, .. } if *code == FAULT_RATE_LIMITED)
    }
}

fn malformed(msg: impl Into<String>) -> XmlRpcError {
    XmlRpcError::Malformed(msg.into())
}

// ---------------------------------------------------------------- encoding

/// Escapes text content. Characters XML 1.0 cannot carry become U+FFFD; `\r` is written
/// as a reference so end-of-line normalization does not eat it.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn encode_value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::Int(i) if i32::try_from(*i).is_ok() => {
            out.push_str(&format!("<int>{i}</int>"));
        }
        Value::Int(i) => out.push_str(&format!("<i8>{i}</i8>")),
        Value::Bool(b) => out.push_str(if *b {
            "<boolean>1</boolean>"
        } else {
            "<boolean>0</boolean>"
        }),
        Value::Str(s) => {
            out.push_str("<string>");
            escape_into(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) => {
            let text = if d.is_nan() {
                "nan".to_string()
            } else if d.is_infinite() {
                if *d > 0.0 { "inf" } else { "-inf" }.to_string()
            } else {
                format!("{d}")
            };
            out.push_str(&format!("<double>{text}</double>"));
        }
        Value::Array(items) => {
            out.push_str("<array><data>\n");
            for item in items {
                encode_value(out, item);
                out.push('\n');
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>\n");
            for (name, value) in members {
                out.push_str("<member>\n<name>");
                escape_into(out, name);
                out.push_str("</name>\n");
                encode_value(out, value);
                out.push_str("\n</member>\n");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
        Value::Base64(bytes) => {
            out.push_str("<base64>");
            out.push_str(&base64::encode(bytes));
            out.push_str("</base64>");
        }
        Value::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            escape_into(out, s);
            out.push_str("</dateTime.iso8601>");
        }
    }
    out.push_str("</value>");
}

const DECL: &str = "<?xml version='1.0'?>\n";

/// A `methodCall` document.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = String::from(DECL);
    out.push_str("<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>\n");
        encode_value(&mut out, p);
        out.push_str("\n</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// A successful `methodResponse` carrying one value.
pub fn encode_response(v: &Value) -> String {
    let mut out = String::from(DECL);
    out.push_str("<methodResponse>\n<params>\n<param>\n");
    encode_value(&mut out, v);
    out.push_str("\n</param>\n</params>\n</methodResponse>\n");
    out
}

/// A fault `methodResponse`.
pub fn encode_fault(code: i64, msg: &str) -> String {
    let mut out = String::from(DECL);
    out.push_str("<methodResponse>\n<fault>\n");
    encode_value(
        &mut out,
        &Value::Struct(vec![
            ("faultCode".into(), Value::Int(code)),
            ("faultString".into(), Value::Str(msg.into())),
        ]),
    );
    out.push_str("\n</fault>\n</methodResponse>\n");
    out
}

// ---------------------------------------------------------------- decoding

/// An element with its child elements and its own text (XML-RPC has no mixed content).
#[derive(Debug, Default)]
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
}

fn element_name(e: &BytesStart<'_>) -> Result<String, XmlRpcError> {
    std::str::from_utf8(e.local_name().as_ref())
        .map(str::to_string)
        .map_err(|_| XmlRpcError::Xml("element name is not UTF-8".into()))
}

/// Builds the element tree, refusing DTDs, custom entities and excessive depth.
fn parse_tree(body: &[u8]) -> Result<Node, XmlRpcError> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let xml_err = |e: quick_xml::Error, pos: u64| XmlRpcError::Xml(format!("{e} at byte {pos}"));
    loop {
        let event = reader
            .read_event()
            .map_err(|e| xml_err(e, reader.error_position()))?;
        match event {
            Event::DocType(_) => {
                return Err(XmlRpcError::Refused(
                    "a DTD (<!DOCTYPE ...>) is not allowed".into(),
                ));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_ELEMENT_DEPTH {
                    return Err(XmlRpcError::TooDeep);
                }
                stack.push(Node {
                    name: element_name(&e)?,
                    ..Default::default()
                });
            }
            Event::Empty(e) => {
                let node = Node {
                    name: element_name(&e)?,
                    ..Default::default()
                };
                attach(&mut stack, &mut root, node)?;
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| XmlRpcError::Xml("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, node)?;
            }
            Event::Text(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|e| XmlRpcError::Xml(format!("text is not UTF-8: {e}")))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t
                    .decode()
                    .map_err(|e| XmlRpcError::Xml(format!("CDATA is not UTF-8: {e}")))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| XmlRpcError::Xml(format!("bad character reference: {e}")))?
                        .ok_or_else(|| XmlRpcError::Xml("bad character reference".into()))?
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| XmlRpcError::Xml(format!("entity name is not UTF-8: {e}")))?;
                    match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => {
                            return Err(XmlRpcError::Refused(format!(
                                "entity &{other}; is not one of the five predefined XML entities"
                            )));
                        }
                    }
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlRpcError::Xml("document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlRpcError::Xml("no root element".into()))
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) -> Result<(), XmlRpcError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None if root.is_none() => *root = Some(node),
        None => return Err(XmlRpcError::Xml("more than one root element".into())),
    }
    Ok(())
}

fn push_text(stack: &mut [Node], text: &str) -> Result<(), XmlRpcError> {
    match stack.last_mut() {
        Some(node) => node.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(XmlRpcError::Xml("text outside the root element".into())),
    }
    Ok(())
}

fn expect<'a>(node: &'a Node, name: &str) -> Result<&'a Node, XmlRpcError> {
    if node.name == name {
        Ok(node)
    } else {
        Err(malformed(format!(
            "expected <{name}>, found <{}>",
            node.name
        )))
    }
}

fn only_child<'a>(node: &'a Node, name: &str) -> Result<&'a Node, XmlRpcError> {
    match node.children.as_slice() {
        [child] => expect(child, name),
        _ => Err(malformed(format!(
            "<{}> must contain exactly one <{name}>",
            node.name
        ))),
    }
}

fn leaf_text(node: &Node) -> Result<&str, XmlRpcError> {
    if node.children.is_empty() {
        Ok(&node.text)
    } else {
        Err(malformed(format!(
            "<{}> must not contain elements",
            node.name
        )))
    }
}

fn decode_value(node: &Node, depth: usize) -> Result<Value, XmlRpcError> {
    expect(node, "value")?;
    if depth > MAX_VALUE_DEPTH {
        return Err(XmlRpcError::TooDeep);
    }
    let typed = match node.children.as_slice() {
        // Untyped `<value>text</value>` is a string.
        [] => return Ok(Value::Str(node.text.clone())),
        [typed] => typed,
        _ => return Err(malformed("<value> holds more than one element")),
    };
    let text = || leaf_text(typed);
    Ok(match typed.name.as_str() {
        "i4" | "int" | "i8" => Value::Int(
            text()?
                .trim()
                .parse()
                .map_err(|_| malformed(format!("bad <{}> {:?}", typed.name, typed.text)))?,
        ),
        "boolean" => match text()?.trim() {
            "1" | "true" => Value::Bool(true),
            "0" | "false" => Value::Bool(false),
            other => return Err(malformed(format!("bad <boolean> {other:?}"))),
        },
        "string" => Value::Str(text()?.to_string()),
        "double" => Value::Double(
            text()?
                .trim()
                .parse()
                .map_err(|_| malformed(format!("bad <double> {:?}", typed.text)))?,
        ),
        "dateTime.iso8601" => Value::DateTime(text()?.trim().to_string()),
        "base64" => {
            Value::Base64(base64::decode(text()?).ok_or_else(|| malformed("bad <base64> content"))?)
        }
        "nil" => {
            text()?;
            Value::Nil
        }
        "array" => {
            let data = only_child(typed, "data")?;
            Value::Array(
                data.children
                    .iter()
                    .map(|v| decode_value(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        "struct" => {
            let mut members = Vec::with_capacity(typed.children.len());
            for m in &typed.children {
                expect(m, "member")?;
                let name = m.children.iter().find(|c| c.name == "name");
                let value = m.children.iter().find(|c| c.name == "value");
                let (Some(name), Some(value)) = (name, value) else {
                    return Err(malformed("<member> needs <name> and <value>"));
                };
                members.push((
                    leaf_text(name)?.to_string(),
                    decode_value(value, depth + 1)?,
                ));
            }
            Value::Struct(members)
        }
        other => return Err(malformed(format!("unknown value type <{other}>"))),
    })
}

fn fault_from(value: Value) -> XmlRpcError {
    let mut code = 0;
    let mut message = String::new();
    if let Value::Struct(members) = value {
        for (k, v) in members {
            match (k.as_str(), v) {
                ("faultCode", Value::Int(c)) => code = c,
                ("faultString", Value::Str(s)) => message = s,
                _ => {}
            }
        }
    }
    XmlRpcError::Fault { code, message }
}

/// Decodes a `methodResponse`: its single value, or its fault as [`XmlRpcError::Fault`].
pub fn decode_response(body: &[u8]) -> Result<Value, XmlRpcError> {
    let root = parse_tree(body)?;
    expect(&root, "methodResponse")?;
    let inner = match root.children.as_slice() {
        [inner] => inner,
        _ => return Err(malformed("<methodResponse> must hold <params> or <fault>")),
    };
    match inner.name.as_str() {
        "fault" => Err(fault_from(decode_value(only_child(inner, "value")?, 0)?)),
        "params" => {
            let param = only_child(inner, "param")?;
            decode_value(only_child(param, "value")?, 0)
        }
        other => Err(malformed(format!(
            "unexpected <{other}> in <methodResponse>"
        ))),
    }
}

/// Decodes a `methodCall` into the method name and its parameters.
pub fn decode_call(body: &[u8]) -> Result<(String, Vec<Value>), XmlRpcError> {
    let root = parse_tree(body)?;
    expect(&root, "methodCall")?;
    let name = root
        .children
        .iter()
        .find(|c| c.name == "methodName")
        .ok_or_else(|| malformed("<methodCall> has no <methodName>"))?;
    let name = leaf_text(name)?.trim().to_string();
    if name.is_empty() {
        return Err(malformed("empty <methodName>"));
    }
    let mut params = Vec::new();
    if let Some(ps) = root.children.iter().find(|c| c.name == "params") {
        for p in &ps.children {
            expect(p, "param")?;
            params.push(decode_value(only_child(p, "value")?, 0)?);
        }
    }
    Ok((name, params))
}

// ---------------------------------------------------------------- typed results

fn wrong(what: &str, v: &Value) -> XmlRpcError {
    malformed(format!("expected {what}, got {}", v.kind()))
}

/// An integer result (`changelog_last_serial`).
pub fn decode_int(v: Value) -> Result<i64, XmlRpcError> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(wrong("an int", &other)),
    }
}

fn serial(v: &Value, what: &str) -> Result<u64, XmlRpcError> {
    match v {
        Value::Int(i) => u64::try_from(*i).map_err(|_| malformed(format!("negative {what} {i}"))),
        other => Err(wrong(what, other)),
    }
}

/// `list_packages_with_serial()` → struct {display name: serial}.
pub fn decode_list_packages_with_serial(v: Value) -> Result<Vec<ListedProject>, XmlRpcError> {
    let Value::Struct(members) = v else {
        return Err(wrong("a struct of name → serial", &v));
    };
    members
        .into_iter()
        .map(|(name, s)| {
            Ok(ListedProject {
                serial: serial(&s, "serial")?,
                // Passed on even when invalid; the planner rejects such names (see simple_json).
                name,
            })
        })
        .collect()
}

/// `changelog_since_serial(n)` → `[name, version|nil, unix_ts, action, serial]` rows.
pub fn decode_changelog(v: Value) -> Result<Vec<ChangelogEntry>, XmlRpcError> {
    let Value::Array(rows) = v else {
        return Err(wrong("an array of changelog rows", &v));
    };
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let Value::Array(fields) = row else {
                return Err(wrong(&format!("changelog row {i} as an array"), &row));
            };
            let [name, version, ts, action, serial_v, ..] = fields.as_slice() else {
                return Err(malformed(format!(
                    "changelog row {i} has {} fields, expected 5",
                    fields.len()
                )));
            };
            let Value::Str(name) = name else {
                return Err(wrong(&format!("changelog row {i} name as a string"), name));
            };
            let version = match version {
                Value::Nil => None,
                Value::Str(s) if s.is_empty() => None,
                Value::Str(s) => Some(s.clone()),
                other => return Err(wrong(&format!("changelog row {i} version"), other)),
            };
            let timestamp = match ts {
                Value::Int(t) => *t,
                other => {
                    return Err(wrong(
                        &format!("changelog row {i} timestamp as an int"),
                        other,
                    ));
                }
            };
            let Value::Str(action) = action else {
                return Err(wrong(
                    &format!("changelog row {i} action as a string"),
                    action,
                ));
            };
            Ok(ChangelogEntry {
                name: name.clone(),
                version,
                timestamp,
                action: action.clone(),
                serial: serial(serial_v, "changelog serial")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
