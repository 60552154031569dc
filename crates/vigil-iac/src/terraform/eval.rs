//! Placeholder evaluator: literal arguments only (the real evaluator replaces
//! this file).

use super::{TfInputs, TfResource};
use crate::value::Val;
use crate::ParseError;
use hcl::{Body, Expression, ObjectKey, Structure};
use std::collections::BTreeMap;

/// Evaluates the resource blocks of a set of `.tf` files.
pub fn evaluate(
    files: &[(String, String)],
    _inputs: &TfInputs,
) -> (Vec<TfResource>, Vec<ParseError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in files {
        let body: Body = match hcl::parse(text) {
            Ok(b) => b,
            Err(e) => {
                errors.push(ParseError {
                    file: file.clone(),
                    line: 1,
                    column: 1,
                    message: e.to_string(),
                });
                continue;
            }
        };
        for block in body.blocks() {
            if block.identifier() != "resource" || block.labels().len() != 2 {
                continue;
            }
            let kind = label(&block.labels()[0]);
            let name = label(&block.labels()[1]);
            out.push(TfResource {
                address: format!("{kind}.{name}"),
                kind,
                name,
                file: file.clone(),
                line: 1,
                end_line: 1,
                attrs: body_val(block.body()),
                suppressed: BTreeMap::new(),
            });
        }
    }
    (out, errors)
}

fn label(l: &hcl::BlockLabel) -> String {
    match l {
        hcl::BlockLabel::Identifier(i) => i.to_string(),
        hcl::BlockLabel::String(s) => s.clone(),
    }
}

fn body_val(body: &Body) -> Val {
    let mut m: BTreeMap<String, Val> = BTreeMap::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                m.insert(a.key.to_string(), lit(&a.expr));
            }
            Structure::Block(b) => {
                if let Val::List(items) = m
                    .entry(b.identifier().to_string())
                    .or_insert_with(|| Val::List(Vec::new()))
                {
                    items.push(body_val(b.body()));
                }
            }
        }
    }
    Val::Map(m)
}

fn lit(e: &Expression) -> Val {
    match e {
        Expression::Null => Val::Null,
        Expression::Bool(b) => Val::Bool(*b),
        Expression::Number(n) => Val::Number(n.as_f64().unwrap_or(0.0)),
        Expression::String(s) => Val::String(s.clone()),
        Expression::Array(items) => Val::List(items.iter().map(lit).collect()),
        Expression::Object(entries) => Val::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        ObjectKey::Identifier(i) => i.to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (key, lit(v))
                })
                .collect(),
        ),
        other => Val::unknown(other.to_string().trim()),
    }
}
