use super::*;
use serde_json::json;

fn parse(text: &str) -> Vec<CfnResource> {
    match parse_template("t.yaml", text) {
        Ok(r) => r,
        Err(e) => panic!("template did not parse: {e}"),
    }
}

fn one(text: &str) -> CfnResource {
    let mut r = parse(text);
    assert_eq!(r.len(), 1, "{r:?}");
    r.remove(0)
}

/// The props of the only resource of a YAML template whose `Resources`
/// has the one resource `R` with these (indented) properties.
fn props_with(head: &str, props: &str) -> Val {
    let props: String = props.lines().map(|l| format!("      {l}\n")).collect();
    one(&format!(
        "{head}\nResources:\n  R:\n    Type: AWS::S3::Bucket\n    Properties:\n{props}"
    ))
    .props
}

fn props(props: &str) -> Val {
    props_with("", props)
}

fn json_of(v: &Val) -> serde_json::Value {
    match v.to_json() {
        Ok(j) => j,
        Err(u) => panic!("unknown inside: {}", u.expr),
    }
}

fn expr(v: Option<&Val>) -> String {
    match v {
        Some(Val::Unknown(u)) => u.expr.clone(),
        other => panic!("expected an unknown, got {other:?}"),
    }
}

#[test]
fn yaml_short_ref_and_get_att_of_resources_are_unknown_with_exact_expr() {
    let p = props(
        "A: !Ref Logs\nB: !GetAtt Logs.Arn\nC: !GetAtt [Logs, Arn]\nD: {Ref: Logs}\nE: {\"Fn::GetAtt\": [Db, Endpoint.Address]}",
    );
    assert_eq!(expr(p.get("A")), "!Ref Logs");
    assert_eq!(expr(p.get("B")), "!GetAtt Logs.Arn");
    assert_eq!(expr(p.get("C")), "!GetAtt Logs.Arn");
    assert_eq!(expr(p.get("D")), "!Ref Logs");
    assert_eq!(expr(p.get("E")), "!GetAtt Db.Endpoint.Address");
}

#[test]
fn plain_scalars_are_typed_and_quoted_ones_are_strings() {
    let p = props(
        "a: 5\nb: '5'\nc: true\nd: 1.5\ne: ~\nf: 2010-09-09\ng: .inf\nh: -3\ni: 012345678901\nj: 0\nk: 0.5",
    );
    assert_eq!(
        json_of(&p),
        json!({"a": 5, "b": "5", "c": true, "d": 1.5, "e": null, "f": "2010-09-09", "g": ".inf", "h": -3,
               "i": "012345678901", "j": 0, "k": 0.5})
    );
}

const PARAMS: &str = "Parameters:
  Env: {Type: String, Default: prod}
  Port: {Type: Number, Default: '22'}
  Cidrs: {Type: CommaDelimitedList, Default: '10.0.0.0/8, 192.168.0.0/16'}
  Ports: {Type: 'List<Number>', Default: '80,443'}
  Name: {Type: String}
  Ami: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /aws/ami}";

#[test]
fn parameters_use_their_default_as_their_type_reads_it() {
    let p = props_with(
        PARAMS,
        "Env: !Ref Env\nPort: !Ref Port\nCidrs: !Ref Cidrs\nPorts: !Ref Ports",
    );
    assert_eq!(
        json_of(&p),
        json!({"Env": "prod", "Port": 22, "Cidrs": ["10.0.0.0/8", "192.168.0.0/16"], "Ports": [80, 443]})
    );
}

#[test]
fn parameters_without_default_and_ssm_parameters_are_unknown() {
    let p = props_with(PARAMS, "Name: !Ref Name\nAmi: !Ref Ami");
    assert_eq!(expr(p.get("Name")), "!Ref Name");
    assert_eq!(expr(p.get("Ami")), "!Ref Ami");
}

#[test]
fn pseudo_parameters() {
    let p = props(
        "P: !Ref AWS::Partition\nU: !Ref AWS::URLSuffix\nR: !Ref AWS::Region\nA: !Ref AWS::AccountId\nS: !Ref AWS::StackName\nI: !Ref AWS::StackId\nN: !Ref AWS::NotificationARNs\nGone: !Ref AWS::NoValue\nL: [a, !Ref AWS::NoValue, b]",
    );
    assert_eq!(p.get("P"), Some(&Val::string("aws")));
    assert_eq!(p.get("U"), Some(&Val::string("amazonaws.com")));
    for (k, name) in [
        ("R", "AWS::Region"),
        ("A", "AWS::AccountId"),
        ("S", "AWS::StackName"),
        ("I", "AWS::StackId"),
        ("N", "AWS::NotificationARNs"),
    ] {
        assert_eq!(expr(p.get(k)), format!("!Ref {name}"));
    }
    assert_eq!(p.get("Gone"), None);
    assert_eq!(json_of(p.get("L").unwrap_or(&Val::Null)), json!(["a", "b"]));
}

#[test]
fn sub_resolves_known_variables_and_keeps_the_text_when_unknown() {
    let p = props_with(
        PARAMS,
        "A: !Sub 'app-${Env}-${AWS::Partition}'
B: !Sub 'arn:${AWS::Partition}:s3:::${Logs}/*'
C: !Sub '${!Literal}-${Env}'
D:
  Fn::Sub:
    - '${Pre}-${Env}'
    - Pre: !Join ['', [x, y]]
E: !Sub '${Logs.Arn}'
F: !Sub ['${X}', {X: !Ref Logs}]
G: !Sub '${AWS::Region}-x'",
    );
    assert_eq!(p.get("A"), Some(&Val::string("app-prod-aws")));
    assert_eq!(
        expr(p.get("B")),
        "!Sub arn:${AWS::Partition}:s3:::${Logs}/*"
    );
    assert_eq!(p.get("C"), Some(&Val::string("${Literal}-prod")));
    assert_eq!(p.get("D"), Some(&Val::string("xy-prod")));
    assert_eq!(expr(p.get("E")), "!GetAtt Logs.Arn");
    assert_eq!(expr(p.get("F")), "!Ref Logs");
    assert_eq!(expr(p.get("G")), "!Sub ${AWS::Region}-x");
}

const CONDITIONS: &str = "Parameters:
  Env: {Type: String, Default: prod}
  Free: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Unknown: !Equals [!Ref Free, x]
  Both: !And [!Condition IsProd, !Condition Unknown]
  Either: !Or [!Condition IsProd, !Condition Unknown]
  Cycle: !Not [!Condition Cycle]";

#[test]
fn if_follows_conditions_and_is_unknown_on_unknown_conditions() {
    let p = props_with(
        CONDITIONS,
        "A: !If [IsProd, on, off]
B: !If [IsDev, on, off]
C: !If [Unknown, on, off]
D: !If [Both, on, off]
E: !If [Either, on, off]
F: !If [Cycle, on, off]
G: !If [Unknown, same, same]
H: !If [IsProd, !Ref AWS::NoValue, off]
I: {'Fn::If': [IsDev, 1, 2]}",
    );
    assert_eq!(p.get("A"), Some(&Val::string("on")));
    assert_eq!(p.get("B"), Some(&Val::string("off")));
    assert_eq!(expr(p.get("C")), "!If [Unknown, on, off]");
    assert!(matches!(p.get("D"), Some(Val::Unknown(_))));
    assert_eq!(p.get("E"), Some(&Val::string("on")));
    assert!(matches!(p.get("F"), Some(Val::Unknown(_))));
    assert_eq!(p.get("G"), Some(&Val::string("same")));
    assert_eq!(p.get("H"), None);
    assert_eq!(p.get("I"), Some(&Val::Number(2.0)));
}

#[test]
fn resource_condition_false_leaves_the_resource_out_unknown_keeps_it() {
    let r = parse(&format!(
        "{CONDITIONS}
Resources:
  Dev: {{Type: AWS::S3::Bucket, Condition: IsDev}}
  Prod: {{Type: AWS::S3::Bucket, Condition: IsProd}}
  Maybe: {{Type: AWS::S3::Bucket, Condition: Unknown}}
"
    ));
    let ids: Vec<&str> = r.iter().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(ids, ["Prod", "Maybe"]);
}

#[test]
fn find_in_map_select_join_split_base64_cidr() {
    let p = props_with(
        "Mappings:\n  Sizes:\n    prod: {Size: 100, Zones: [a, b]}\nParameters:\n  Env: {Type: String, Default: prod}",
        "Size: !FindInMap [Sizes, !Ref Env, Size]
Zones: !FindInMap [Sizes, prod, Zones]
Missing: !FindInMap [Sizes, !Ref AWS::Region, Size]
Default: !FindInMap [Sizes, dev, Size, {DefaultValue: 5}]
Sel: !Select [1, [a, b, c]]
SelRef: !Select ['0', [!Ref Logs, b]]
Azs: !Select [0, !GetAZs '']
Join: !Join ['-', [a, !Ref Env, 3]]
JoinU: !Join ['-', [a, !Ref Logs]]
Split: !Split [',', 'a,b']
B64: !Base64 'hello'
Cidr: !Cidr ['10.0.0.0/16', 3, 8]
Import: !ImportValue shared-vpc",
    );
    assert_eq!(p.get("Size"), Some(&Val::Number(100.0)));
    assert_eq!(
        json_of(p.get("Zones").unwrap_or(&Val::Null)),
        json!(["a", "b"])
    );
    assert_eq!(
        expr(p.get("Missing")),
        "!FindInMap [Sizes, !Ref AWS::Region, Size]"
    );
    assert_eq!(p.get("Default"), Some(&Val::Number(5.0)));
    assert_eq!(p.get("Sel"), Some(&Val::string("b")));
    assert_eq!(expr(p.get("SelRef")), "!Ref Logs");
    assert_eq!(expr(p.get("Azs")), "!Select [0, !GetAZs \"\"]");
    assert_eq!(p.get("Join"), Some(&Val::string("a-prod-3")));
    assert_eq!(expr(p.get("JoinU")), "!Join [-, [a, !Ref Logs]]");
    assert_eq!(
        json_of(p.get("Split").unwrap_or(&Val::Null)),
        json!(["a", "b"])
    );
    assert_eq!(p.get("B64"), Some(&Val::string("aGVsbG8=")));
    assert_eq!(
        json_of(p.get("Cidr").unwrap_or(&Val::Null)),
        json!(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])
    );
    assert_eq!(expr(p.get("Import")), "!ImportValue shared-vpc");
}

#[test]
fn equals_and_or_not_as_values() {
    let p = props_with(
        CONDITIONS,
        "E: !Equals [a, a]\nN: !Not [!Equals [a, a]]\nO: !Or [!Equals [a, b], !Condition IsProd]\nA: !And [!Condition IsProd, !Condition IsDev]",
    );
    assert_eq!(
        json_of(&p),
        json!({"E": true, "N": false, "O": true, "A": false})
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let p = props(
        "Base: &base {Enabled: true, Days: 7}\nCopy: *base\nMerged:\n  <<: *base\n  Days: 30",
    );
    assert_eq!(
        json_of(&p),
        json!({"Base": {"Enabled": true, "Days": 7}, "Copy": {"Enabled": true, "Days": 7}, "Merged": {"Enabled": true, "Days": 30}})
    );
}

const YAML_LINES: &str = "AWSTemplateFormatVersion: '2010-09-09'
Resources:
  # a comment
  Logs:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: logs
      Script: |
        line one
        line two

  Other:
    Type: AWS::S3::Bucket

Outputs:
  Name:
    Value: !Ref Logs
";

#[test]
fn yaml_resources_have_exact_first_and_last_lines() {
    let r = parse(YAML_LINES);
    let lines: Vec<(&str, u32, u32)> = r
        .iter()
        .map(|r| (r.logical_id.as_str(), r.line, r.end_line))
        .collect();
    assert_eq!(lines, [("Logs", 4, 10), ("Other", 12, 13)]);
    assert_eq!(
        r[0].props.get("Script"),
        Some(&Val::string("line one\nline two\n"))
    );
}

#[test]
fn json_resources_have_exact_first_and_last_lines() {
    let text = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "Logs": {
      "Type": "AWS::S3::Bucket",
      "Properties": {"BucketName": {"Fn::Join": ["-", ["a", {"Ref": "AWS::Partition"}]]}}
    },
    "Other": {"Type": "AWS::S3::Bucket"}
  }
}"#;
    let r = match parse_template("t.json", text) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let lines: Vec<(&str, u32, u32)> = r
        .iter()
        .map(|r| (r.logical_id.as_str(), r.line, r.end_line))
        .collect();
    assert_eq!(lines, [("Logs", 4, 7), ("Other", 8, 8)]);
    assert_eq!(r[0].props.get("BucketName"), Some(&Val::string("a-aws")));
    assert_eq!(r[0].file, "t.json");
    assert_eq!(r[1].props, Val::Map(BTreeMap::new()));
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let e = parse_template("bad.yaml", "Resources:\n  A:\n\tType: x\n").err();
    let e = e.unwrap_or_else(|| panic!("a tab in indentation must not parse"));
    assert_eq!((e.file.as_str(), e.line), ("bad.yaml", 3), "{e}");
    assert!(e.column >= 1, "{e}");
    assert!(!e.message.is_empty());
}

#[test]
fn json_syntax_errors_have_serde_json_line_and_column() {
    let e = parse_template(
        "bad.json",
        "{\n  \"Resources\": {\n    \"A\": {\"Type\": \"x\"}\n",
    )
    .err()
    .unwrap_or_else(|| panic!("an unclosed brace must not parse"));
    assert_eq!(e.line, 4, "{e}");
    assert_eq!(e.message, "EOF while parsing an object", "{e}");
    let e = parse_template("bad.json", "{\"Resources\": {\"A\" 1}}")
        .err()
        .unwrap_or_else(|| panic!("a missing colon must not parse"));
    assert_eq!((e.line, e.column), (1, 20), "{e}");
}

#[test]
fn structural_errors_name_the_resource_and_its_line() {
    let e = parse_template("t.yaml", "Resources:\n  A:\n    Properties: {}\n")
        .err()
        .unwrap_or_else(|| panic!("a resource without Type must be refused"));
    assert_eq!((e.line, e.column), (2, 3));
    assert!(e.message.contains("`A` has no `Type`"), "{e}");
}

#[test]
fn templates_are_told_from_other_json_and_yaml() {
    assert!(is_template("t.yaml", YAML_LINES));
    assert!(is_template(
        "t.template",
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n"
    ));
    assert!(is_template(
        "t.json",
        r#"{"AWSTemplateFormatVersion": "2010-09-09"}"#
    ));
    assert!(!is_template(
        "package.json",
        r#"{"name": "x", "version": "1.0.0"}"#
    ));
    assert!(!is_template(
        "k8s.yaml",
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  note: AWS::S3::Bucket\n---\nkind: Pod\n"
    ));
    assert!(!is_template(
        "x.yaml",
        "Resources:\n  A:\n    Type: Custom\n"
    ));
    assert!(is_template("broken.yaml", "AWSTemplateFormatVersion: [\n"));
}

#[test]
fn no_resources_is_no_resources() {
    assert_eq!(parse("AWSTemplateFormatVersion: '2010-09-09'\n"), []);
    assert_eq!(parse(""), []);
}

#[test]
fn suppressions_from_metadata_and_comments() {
    let r = parse(
        "Resources:
  Logs:
    Type: AWS::S3::Bucket
    Metadata:
      vigil:
        skip:
          - id: 48
            comment: public website
          - {id: 'CID-51'}
    Properties:
      BucketName: logs # vigil:skip=60:access logs are elsewhere
      # vigil:skip=61
      Tag: 'not # vigil:skip=62:in a string'
  Other:
    Type: AWS::S3::Bucket
# vigil:skip=70:belongs to nobody
",
    );
    let s = &r[0].suppressed;
    assert_eq!(s.get(&48).map(String::as_str), Some("public website"));
    assert_eq!(
        s.get(&51).map(String::as_str),
        Some("suppressed in the resource's Metadata")
    );
    assert_eq!(
        s.get(&60).map(String::as_str),
        Some("access logs are elsewhere")
    );
    assert!(s.contains_key(&61));
    assert!(!s.contains_key(&62));
    assert_eq!(s.len(), 4, "{s:?}");
    assert!(r[1].suppressed.is_empty(), "{:?}", r[1].suppressed);
}

#[test]
fn five_thousand_resources_parse_quickly() {
    let mut text = String::from("AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Env: {Type: String, Default: prod}\nResources:\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "  B{i}:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub 'b-{i}-${{Env}}'\n      Tags:\n        - Key: n\n          Value: !Ref B0\n"
        ));
    }
    let start = std::time::Instant::now();
    let r = parse(&text);
    let elapsed = start.elapsed();
    assert_eq!(r.len(), 5000);
    assert_eq!(
        r[4999].props.get("BucketName"),
        Some(&Val::string("b-4999-prod"))
    );
    assert_eq!(
        (r[4999].line, r[4999].end_line),
        (4 + 4999 * 7 + 1, 4 + 5000 * 7)
    );
    // Generous for unoptimized test builds on a shared machine.
    assert!(elapsed.as_secs_f64() < 3.0, "took {elapsed:?}");
}

#[test]
fn a_yaml_flow_mapping_document_is_read_as_yaml() {
    let r =
        parse("{Resources: {A: {Type: AWS::SQS::Queue, Properties: {Name: !Ref AWS::Partition}}}}");
    assert_eq!(r[0].props.get("Name"), Some(&Val::string("aws")));
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let e = parse_template("bomb.yaml", &text)
        .err()
        .unwrap_or_else(|| panic!("an alias bomb must be refused"));
    assert!(e.message.contains("alias bomb"), "{e}");
}

#[test]
fn duplicate_logical_ids_are_refused() {
    let e = parse_template(
        "t.yaml",
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n  A:\n    Type: AWS::SQS::Queue\n",
    )
    .err()
    .unwrap_or_else(|| panic!("duplicate logical ids must be refused"));
    assert_eq!((e.line, e.column), (4, 3));
    assert!(e.message.contains("first at line 2"), "{e}");
}

#[test]
fn json_and_yaml_forms_of_a_template_read_alike() {
    let yaml = "AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Env: {Type: String, Default: prod}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Logs:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub 'logs-${Env}'
      VersioningConfiguration:
        Status: !If [IsProd, Enabled, Suspended]
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Logs
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: '*'
            Action: s3:GetObject
            Resource: !Sub '${Logs.Arn}/*'
            Condition: {Bool: {aws:SecureTransport: 'false'}}
";
    let json = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {"Env": {"Type": "String", "Default": "prod"}},
  "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
  "Resources": {
    "Logs": {
      "Type": "AWS::S3::Bucket",
      "Properties": {
        "BucketName": {"Fn::Sub": "logs-${Env}"},
        "VersioningConfiguration": {"Status": {"Fn::If": ["IsProd", "Enabled", "Suspended"]}}
      }
    },
    "Policy": {
      "Type": "AWS::S3::BucketPolicy",
      "Properties": {
        "Bucket": {"Ref": "Logs"},
        "PolicyDocument": {"Statement": [{
          "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
          "Resource": {"Fn::Sub": "${Logs.Arn}/*"},
          "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]}
      }
    }
  }
}"#;
    let from_yaml = parse(yaml);
    let from_json = match parse_template("t.yaml", json) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let props = |r: &[CfnResource]| r.iter().map(|r| r.props.clone()).collect::<Vec<_>>();
    assert_eq!(props(&from_yaml), props(&from_json));
    let bucket = &from_yaml[0].props;
    assert_eq!(bucket.get("BucketName"), Some(&Val::string("logs-prod")));
    assert_eq!(
        bucket.path("VersioningConfiguration.Status"),
        Some(&Val::string("Enabled"))
    );
    let policy = &from_yaml[1].props;
    assert_eq!(expr(policy.get("Bucket")), "!Ref Logs");
    let statement = policy
        .path("PolicyDocument.Statement")
        .and_then(Val::as_list)
        .and_then(<[Val]>::first);
    let statement = statement.unwrap_or_else(|| panic!("no statement in {policy:?}"));
    assert_eq!(expr(statement.get("Resource")), "!Sub ${Logs.Arn}/*");
    assert_eq!(
        statement
            .get("Condition")
            .and_then(|c| c.get("Bool"))
            .and_then(|b| b.get("aws:SecureTransport")),
        Some(&Val::string("false"))
    );
}

#[test]
fn crlf_line_endings_keep_lines_exact() {
    let r = parse(&YAML_LINES.replace('\n', "\r\n"));
    let lines: Vec<(u32, u32)> = r.iter().map(|r| (r.line, r.end_line)).collect();
    assert_eq!(lines, [(4, 10), (12, 13)]);
}

#[test]
fn the_last_resource_ends_before_the_next_section() {
    let r = parse("Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      Name: a\n\nOutputs:\n  Out:\n    Value: x\n");
    assert_eq!((r[0].line, r[0].end_line), (2, 5));
}
