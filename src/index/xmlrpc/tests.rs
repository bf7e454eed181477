use super::*;

const LIST_PACKAGES: &str = "<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><struct>
<member>
<name>six</name>
<value><int>27463411</int></value>
</member>
<member>
<name>Zope.Interface</name>
<value><int>2147483648</int></value>
</member>
<member>
<name>foo_bar</name>
<value><i4>7</i4></value>
</member>
</struct></value>
</param>
</params>
</methodResponse>
";

const CHANGELOG: &str = "<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><array><data>
<value><array><data>
<value><string>requests</string></value>
<value><string>2.32.3</string></value>
<value><int>1717000000</int></value>
<value><string>add py3 file requests-2.32.3-py3-none-any.whl</string></value>
<value><int>23500001</int></value>
</data></array></value>
<value><array><data>
<value><string>Foo.Bar</string></value>
<value><nil/></value>
<value><int>1717000001</int></value>
<value><string>create</string></value>
<value><int>23500002</int></value>
</data></array></value>
<value><array><data>
<value>old-pkg</value>
<value><string></string></value>
<value><int>1717000002</int></value>
<value>remove project</value>
<value><int>23500003</int></value>
</data></array></value>
</data></array></value>
</param>
</params>
</methodResponse>
";

const RATE_LIMIT_FAULT: &str = "<?xml version='1.0'?>
<methodResponse>
<fault>
<value><struct>
<member>
<name>faultCode</name>
<value><int>-32500</int></value>
</member>
<member>
<name>faultString</name>
<value><string>HTTPTooManyRequests: The action could not be performed because there were too many requests by the client. Limit may reset in 1 seconds.</string></value>
</member>
</struct></value>
</fault>
</methodResponse>
";

#[test]
fn list_packages_with_serial_sample() {
    let v = decode_response(LIST_PACKAGES.as_bytes()).unwrap();
    let list = decode_list_packages_with_serial(v).unwrap();
    assert_eq!(
        list,
        vec![
            ListedProject {
                name: "six".into(),
                serial: 27463411
            },
            ListedProject {
                name: "Zope.Interface".into(),
                serial: 2147483648
            },
            ListedProject {
                name: "foo_bar".into(),
                serial: 7
            },
        ]
    );
}

#[test]
fn changelog_sample() {
    let v = decode_response(CHANGELOG.as_bytes()).unwrap();
    let rows = decode_changelog(v).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        ChangelogEntry {
            name: "requests".into(),
            version: Some("2.32.3".into()),
            timestamp: 1717000000,
            action: "add py3 file requests-2.32.3-py3-none-any.whl".into(),
            serial: 23500001,
        }
    );
    assert_eq!(rows[1].version, None, "nil version");
    assert_eq!(rows[2].version, None, "empty version");
    assert_eq!(rows[2].action, "remove project");
    let empty = decode_response(
        b"<methodResponse><params><param><value><array><data/></array></value></param></params></methodResponse>",
    )
    .unwrap();
    assert!(decode_changelog(empty).unwrap().is_empty());
}

#[test]
fn fault_is_an_error_with_code() {
    let err = decode_response(RATE_LIMIT_FAULT.as_bytes()).unwrap_err();
    assert!(err.is_rate_limited());
    match err {
        XmlRpcError::Fault { code, message } => {
            assert_eq!(code, -32500);
            assert!(message.starts_with("HTTPTooManyRequests"));
        }
        other => panic!("{other}"),
    }
    let ours = encode_fault(1, "no such method <x> & y");
    match decode_response(ours.as_bytes()).unwrap_err() {
        XmlRpcError::Fault { code, message } => {
            assert_eq!(code, 1);
            assert_eq!(message, "no such method <x> & y");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn last_serial_int() {
    let body = encode_response(&Value::Int(23500003));
    assert!(body.contains("<int>23500003</int>"));
    assert_eq!(
        decode_int(decode_response(body.as_bytes()).unwrap()).unwrap(),
        23500003
    );
    assert!(decode_int(Value::Str("1".into())).is_err());
}

fn every_kind() -> Value {
    Value::Struct(vec![
        ("int".into(), Value::Int(-5)),
        ("big".into(), Value::Int(1 << 40)),
        ("bool".into(), Value::Bool(true)),
        ("no".into(), Value::Bool(false)),
        (
            "str".into(),
            Value::Str("a <b> & \"c\" 'd' \r\n\tend ünï".into()),
        ),
        ("empty".into(), Value::Str(String::new())),
        ("dbl".into(), Value::Double(-1.5)),
        ("nil".into(), Value::Nil),
        ("bin".into(), Value::Base64(vec![0, 1, 2, 255, 254])),
        ("when".into(), Value::DateTime("20240102T03:04:05".into())),
        (
            "arr".into(),
            Value::Array(vec![
                Value::Array(vec![]),
                Value::Struct(vec![]),
                Value::Int(1),
            ]),
        ),
        ("key <&>".into(), Value::Nil),
    ])
}

#[test]
fn response_round_trip_every_type() {
    let v = every_kind();
    let body = encode_response(&v);
    assert!(body.contains("<i8>1099511627776</i8>"));
    assert!(body.contains("&lt;b&gt; &amp;"));
    assert_eq!(decode_response(body.as_bytes()).unwrap(), v);
}

#[test]
fn call_round_trip_and_server_decode() {
    let body = encode_call("changelog_since_serial", &[Value::Int(42)]);
    assert!(body.contains("<methodName>changelog_since_serial</methodName>"));
    let (method, params) = decode_call(body.as_bytes()).unwrap();
    assert_eq!(method, "changelog_since_serial");
    assert_eq!(params, vec![Value::Int(42)]);

    let body = encode_call("list_packages_with_serial", &[]);
    assert_eq!(
        decode_call(body.as_bytes()).unwrap(),
        ("list_packages_with_serial".into(), vec![])
    );

    // What Python's xmlrpc.client sends, and a call without <params>.
    let py = b"<?xml version='1.0'?>\n<methodCall>\n<methodName>changelog_last_serial</methodName>\n<params>\n</params>\n</methodCall>\n";
    assert_eq!(decode_call(py).unwrap().0, "changelog_last_serial");
    let bare = b"<methodCall><methodName> x </methodName></methodCall>";
    assert_eq!(decode_call(bare).unwrap(), ("x".into(), vec![]));
    let all = encode_call("m", &[every_kind(), Value::Str("two".into())]);
    assert_eq!(
        decode_call(all.as_bytes()).unwrap().1,
        vec![every_kind(), Value::Str("two".into())]
    );
}

#[test]
fn untyped_value_is_a_string_and_whitespace_kept() {
    let body = b"<methodResponse><params><param><value>  spaced &amp; &#65;&#x42;<![CDATA[<raw>]]></value></param></params></methodResponse>";
    assert_eq!(
        decode_response(body).unwrap(),
        Value::Str("  spaced & AB<raw>".into())
    );
    let body = b"<methodResponse><params><param><value>\n  <int> 12 </int>\n</value></param></params></methodResponse>";
    assert_eq!(decode_response(body).unwrap(), Value::Int(12));
}

#[test]
fn refuses_dtd_and_billion_laughs() {
    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<methodResponse><params><param><value><string>&lol2;</string></value></param></params></methodResponse>"#;
    let err = decode_response(laughs).unwrap_err();
    assert!(matches!(err, XmlRpcError::Refused(_)), "{err}");
    assert!(err.to_string().contains("DTD"));

    let external = br#"<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><methodCall><methodName>x</methodName></methodCall>"#;
    assert!(matches!(
        decode_call(external).unwrap_err(),
        XmlRpcError::Refused(_)
    ));
}

#[test]
fn refuses_unknown_entities() {
    let body = b"<methodResponse><params><param><value><string>&xxe;</string></value></param></params></methodResponse>";
    let err = decode_response(body).unwrap_err();
    assert!(matches!(err, XmlRpcError::Refused(_)), "{err}");
    assert!(err.to_string().contains("&xxe;"));
    let body = b"<methodCall><methodName>a&nbsp;b</methodName></methodCall>";
    assert!(matches!(
        decode_call(body).unwrap_err(),
        XmlRpcError::Refused(_)
    ));
}

fn nested_array(depth: usize) -> String {
    let mut s = String::from("<methodResponse><params><param>");
    s.push_str(&"<value><array><data>".repeat(depth));
    s.push_str(&"</data></array></value>".repeat(depth));
    s.push_str("</param></params></methodResponse>");
    s
}

#[test]
fn nesting_limit() {
    assert!(decode_response(nested_array(MAX_VALUE_DEPTH).as_bytes()).is_ok());
    let err = decode_response(nested_array(MAX_VALUE_DEPTH + 2).as_bytes()).unwrap_err();
    assert!(matches!(err, XmlRpcError::TooDeep), "{err}");
    let err = decode_response(nested_array(100_000).as_bytes()).unwrap_err();
    assert!(matches!(err, XmlRpcError::TooDeep), "{err}");
    let mut structs = String::from("<methodResponse><params><param>");
    structs.push_str(&"<value><struct><member><name>k</name>".repeat(80));
    structs.push_str(&"</member></struct></value>".repeat(80));
    structs.push_str("</param></params></methodResponse>");
    assert!(matches!(
        decode_response(structs.as_bytes()).unwrap_err(),
        XmlRpcError::TooDeep
    ));
}

#[test]
fn malformed_documents() {
    let cases: &[&[u8]] = &[
        b"",
        b"not xml",
        b"<methodResponse>",
        b"<methodResponse></wrong>",
        b"<methodResponse/><extra/>",
        b"<html><body>502 Bad Gateway</body></html>",
        b"<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><weird/></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><int>1</int><int>2</int></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><string><b>x</b></string></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><base64>!!</base64></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodResponse>",
        b"<methodResponse><params></params></methodResponse>",
        b"<methodResponse><params><param><value>\xff\xfe</value></param></params></methodResponse>",
        b"<methodResponse><params><param><value>a & b</value></param></params></methodResponse>",
    ];
    for body in cases {
        assert!(
            decode_response(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(decode_call(b"<methodCall><methodName></methodName></methodCall>").is_err());
    assert!(decode_call(b"<methodCall></methodCall>").is_err());
    assert!(decode_call(b"<methodResponse/>").is_err());
}

#[test]
fn typed_helpers_refuse_bad_shapes_and_names() {
    let v = Value::Struct(vec![("../etc".into(), Value::Int(1))]);
    // Passed on for the planner to reject rather than failing the whole list.
    let listed = decode_list_packages_with_serial(v).unwrap();
    assert_eq!(listed[0].name, "../etc");
    let v = Value::Struct(vec![("ok".into(), Value::Int(-1))]);
    assert!(decode_list_packages_with_serial(v).is_err());
    assert!(decode_list_packages_with_serial(Value::Array(vec![])).is_err());

    let row = |name: &str, ts: Value| {
        Value::Array(vec![Value::Array(vec![
            Value::Str(name.into()),
            Value::Nil,
            ts,
            Value::Str("create".into()),
            Value::Int(1),
        ])])
    };
    assert!(decode_changelog(row("ok", Value::Int(1))).is_ok());
    assert_eq!(
        decode_changelog(row("a/b", Value::Int(1))).unwrap()[0].name,
        "a/b"
    );
    assert!(decode_changelog(row("ok", Value::Str("x".into()))).is_err());
    assert!(decode_changelog(Value::Array(vec![Value::Array(vec![Value::Nil])])).is_err());
    assert!(decode_changelog(Value::Int(1)).is_err());
}

#[test]
fn output_escapes_control_characters() {
    let body = encode_response(&Value::Str("a\u{1}b\u{FFFF}c\rd".into()));
    assert!(body.contains("a\u{FFFD}b\u{FFFD}c&#13;d"));
    assert_eq!(
        decode_response(body.as_bytes()).unwrap(),
        Value::Str("a\u{FFFD}b\u{FFFD}c\rd".into())
    );
}
