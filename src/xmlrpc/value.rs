//! XML-RPC values: a bounded parser for `<methodCall>` (quick-xml underneath)
//! and the writer for `<methodResponse>`. The parser refuses a DOCTYPE, so no
//! entity can be declared, and quick-xml expands only the five predefined
//! entities and character references: an "XML bomb" has nothing to grow from.

use quick_xml::events::Event;
use quick_xml::Reader;
use std::fmt::Write;

/// The largest body [`parse_call`] reads.
pub const MAX_BODY: usize = 1024 * 1024;
/// Nesting of elements (a value in an array in a struct ... counts each tag).
const MAX_DEPTH: usize = 40;
/// Elements in one call.
const MAX_ELEMENTS: usize = 100_000;

/// One XML-RPC value. `i4`/`int`/`i8` are all `Int`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Double(f64),
    DateTime(String),
    Base64(String),
    Array(Vec<Value>),
    Struct(Vec<(String, Value)>),
    Nil,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn member(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A parsed `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

/// Why a body is not a call we accept; each becomes a fault (or a 413).
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Over [`MAX_BODY`] bytes.
    TooLarge,
    /// Nested deeper than `MAX_DEPTH` or more than `MAX_ELEMENTS` elements.
    TooComplex,
    /// A `<!DOCTYPE>`: entity declarations are not accepted.
    Doctype,
    /// Not well-formed XML, or not an XML-RPC call.
    Malformed(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::TooLarge => write!(f, "the request is over {MAX_BODY} bytes"),
            ParseError::TooComplex => write!(
                f,
                "the request nests deeper than {MAX_DEPTH} or has over {MAX_ELEMENTS} elements"
            ),
            ParseError::Doctype => {
                f.write_str("a DOCTYPE is not accepted (no entity declarations)")
            }
            ParseError::Malformed(why) => write!(f, "not an XML-RPC call: {why}"),
        }
    }
}

/// An element with its children and its text (text of mixed content is joined).
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
}

fn bad(why: impl Into<String>) -> ParseError {
    ParseError::Malformed(why.into())
}

/// The element tree of `body`, within the limits.
fn tree(body: &[u8]) -> Result<Node, ParseError> {
    if body.len() > MAX_BODY {
        return Err(ParseError::TooLarge);
    }
    let mut reader = Reader::from_reader(body);
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut elements = 0;
    loop {
        let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
        match event {
            Event::Start(e) => {
                elements += 1;
                if stack.len() >= MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err(ParseError::TooComplex);
                }
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                stack.push(Node {
                    name,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| bad("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| bad(e.to_string()))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(bad("text outside the root element")),
                }
            }
            Event::CData(c) => {
                let text = String::from_utf8(c.into_inner().into_owned())
                    .map_err(|_| bad("CDATA is not UTF-8"))?;
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&text);
                }
            }
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Empty(_) => return Err(bad("unexpected empty element")),
            Event::Eof => return Err(bad("the document ended early")),
        }
    }
}

fn only_child<'a>(node: &'a Node, name: &str) -> Result<&'a Node, ParseError> {
    match node.children.as_slice() {
        [c] if c.name == name => Ok(c),
        _ => Err(bad(format!("<{}> must hold one <{name}>", node.name))),
    }
}

/// Parse a `<methodCall>`.
pub fn parse_call(body: &[u8]) -> Result<Call, ParseError> {
    let root = tree(body)?;
    if root.name != "methodCall" {
        return Err(bad(format!(
            "the root is <{}>, not <methodCall>",
            root.name
        )));
    }
    let mut method = None;
    let mut params = Vec::new();
    for child in &root.children {
        match child.name.as_str() {
            "methodName" => method = Some(child.text.trim().to_string()),
            "params" => {
                for param in &child.children {
                    if param.name != "param" {
                        return Err(bad(format!("<params> holds <{}>", param.name)));
                    }
                    params.push(value(only_child(param, "value")?)?);
                }
            }
            other => return Err(bad(format!("<methodCall> holds <{other}>"))),
        }
    }
    let method = method
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("no <methodName>"))?;
    Ok(Call { method, params })
}

/// A `<value>` element.
fn value(node: &Node) -> Result<Value, ParseError> {
    let typed = match node.children.as_slice() {
        [] => return Ok(Value::Str(node.text.clone())),
        [t] => t,
        _ => return Err(bad("<value> holds more than one type")),
    };
    let text = typed.text.as_str();
    Ok(match typed.name.as_str() {
        "i4" | "int" | "i8" => Value::Int(
            text.trim()
                .parse()
                .map_err(|_| bad(format!("{text:?} is not an integer")))?,
        ),
        "boolean" => match text.trim() {
            "1" => Value::Bool(true),
            "0" => Value::Bool(false),
            other => return Err(bad(format!("{other:?} is not a boolean (0 or 1)"))),
        },
        "string" => Value::Str(text.to_string()),
        "double" => Value::Double(
            text.trim()
                .parse()
                .map_err(|_| bad(format!("{text:?} is not a double")))?,
        ),
        "dateTime.iso8601" => Value::DateTime(text.trim().to_string()),
        "base64" => Value::Base64(text.trim().to_string()),
        "nil" => Value::Nil,
        "array" => {
            let data = only_child(typed, "data")?;
            let items = data.children.iter().map(|v| {
                if v.name == "value" {
                    value(v)
                } else {
                    Err(bad(format!("<data> holds <{}>", v.name)))
                }
            });
            Value::Array(items.collect::<Result<_, _>>()?)
        }
        "struct" => {
            let mut members = Vec::new();
            for m in &typed.children {
                let name = m.children.iter().find(|c| c.name == "name");
                let val = m.children.iter().find(|c| c.name == "value");
                match (m.name.as_str(), name, val) {
                    ("member", Some(n), Some(v)) => members.push((n.text.clone(), value(v)?)),
                    _ => return Err(bad("a <struct> member needs <name> and <value>")),
                }
            }
            Value::Struct(members)
        }
        other => return Err(bad(format!("unknown type <{other}>"))),
    })
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::Int(n) if i32::try_from(*n).is_ok() => {
            let _ = write!(out, "<int>{n}</int>");
        }
        Value::Int(n) => {
            let _ = write!(out, "<i8>{n}</i8>");
        }
        Value::Bool(b) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*b));
        }
        Value::Str(s) => {
            out.push_str("<string>");
            escape(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) => {
            let _ = write!(out, "<double>{d:?}</double>");
        }
        Value::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            escape(out, s);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(s) => {
            out.push_str("<base64>");
            escape(out, s);
            out.push_str("</base64>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                write_value(out, item);
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (k, v) in members {
                out.push_str("<member><name>");
                escape(out, k);
                out.push_str("</name>");
                write_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// A successful `<methodResponse>`.
pub fn response(v: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse><params><param>");
    write_value(&mut out, v);
    out.push_str("</param></params></methodResponse>\n");
    out
}

/// A fault `<methodResponse>`.
pub fn fault(code: i32, message: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse><fault>");
    let v = Value::Struct(vec![
        ("faultCode".into(), Value::Int(code.into())),
        ("faultString".into(), Value::str(message)),
    ]);
    write_value(&mut out, &v);
    out.push_str("</fault></methodResponse>\n");
    out
}

/// A call as XML, for the tests and the client side of a round trip.
#[cfg(test)]
pub fn call_xml(method: &str, params: &[Value]) -> String {
    let mut out =
        format!("<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>");
    for p in params {
        out.push_str("<param>");
        write_value(&mut out, p);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_round_trips() {
        let params = vec![
            Value::str("a <b> & c"),
            Value::Int(-3),
            Value::Int(1 << 40),
            Value::Bool(true),
            Value::Double(1.5),
            Value::Array(vec![Value::Int(1), Value::str("")]),
            Value::Struct(vec![("k".into(), Value::Nil)]),
        ];
        let call = parse_call(call_xml("supervisor.x", &params).as_bytes()).unwrap();
        assert_eq!(call.method, "supervisor.x");
        assert_eq!(call.params, params);
    }

    #[test]
    fn an_untyped_value_is_a_string_and_empty_elements_work() {
        let body = b"<methodCall><methodName>m</methodName><params>\
            <param><value> x </value></param><param><value><string/></value></param>\
            </params></methodCall>";
        let call = parse_call(body).unwrap();
        assert_eq!(call.params, vec![Value::str(" x "), Value::str("")]);
    }

    #[test]
    fn hostile_bodies_are_refused() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
            <!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\
            <methodCall><methodName>&lol2;</methodName></methodCall>";
        assert_eq!(parse_call(bomb.as_bytes()), Err(ParseError::Doctype));
        let undeclared = "<methodCall><methodName>&lol;</methodName></methodCall>";
        assert!(matches!(
            parse_call(undeclared.as_bytes()),
            Err(ParseError::Malformed(_))
        ));
        let deep = format!(
            "<methodCall><methodName>m</methodName><params><param>{}{}</param></params></methodCall>",
            "<value><array><data>".repeat(100),
            "</data></array></value>".repeat(100)
        );
        assert_eq!(parse_call(deep.as_bytes()), Err(ParseError::TooComplex));
        assert_eq!(
            parse_call(&vec![b' '; MAX_BODY + 1]),
            Err(ParseError::TooLarge)
        );
        for body in [
            "",
            "<methodCall>",
            "<methodCall><methodName>m</methodName></wrong>",
            "<x/>",
            "<methodCall><params/></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><int>1.5</int></value></param></params></methodCall>",
            "<methodCall><methodName>m</methodName><params><param><value><boolean>yes</boolean></value></param></params></methodCall>",
        ] {
            assert!(
                matches!(parse_call(body.as_bytes()), Err(ParseError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn answers_escape_their_text() {
        let r = response(&Value::str("<&>"));
        assert!(r.contains("<string>&lt;&amp;&gt;</string>"), "{r}");
        let f = fault(10, "BAD_NAME: x");
        assert!(
            f.contains("<name>faultCode</name><value><int>10</int></value>"),
            "{f}"
        );
    }
}
