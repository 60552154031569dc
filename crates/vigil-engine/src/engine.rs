//! Compiled controls and their evaluation over normalized resources.

use crate::catalog::LoadedControl;
use crate::cel::{self, ExprSource};
use crate::control::{ControlSpec, ParamValue};
use crate::error::CatalogError;
use cel_interpreter::{Context, ExecutionError, Program, Value};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use vigil_model::{EvalResult, Origin, Resource, Timestamp};

/// The evidence recorded with a result: what a passing resource looks like,
/// what this one has, and a message (the failure message or why it was
/// skipped).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    pub expected: Arc<str>,
    pub actual: String,
    pub message: Arc<str>,
}

/// The result of one control on one resource. `resource` is the index of the
/// resource in the slice that was evaluated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evaluation {
    pub resource: usize,
    pub cid: u32,
    pub result: EvalResult,
    pub evidence: Evidence,
}

/// One control, compiled once per run.
pub struct CompiledControl {
    pub spec: Arc<ControlSpec>,
    pub params: BTreeMap<String, ParamValue>,
    applies: Option<Program>,
    pass: Program,
    actual: Option<Program>,
    params_value: Value,
    expected: Arc<str>,
    fail_message: Arc<str>,
    empty: Arc<str>,
}

impl CompiledControl {
    /// Compiles a loaded control: its parameters are checked and each of its
    /// expressions is parsed and checked for unknown names.
    pub fn compile(control: &LoadedControl) -> Result<Self, CatalogError> {
        let spec = &control.spec;
        let file = control.file.as_str();
        let params = spec
            .param_values()
            .map_err(|e| CatalogError::at(file, 1, 1, e))?;
        let declared: HashSet<&str> = params.keys().map(String::as_str).collect();
        let compile = |key: &'static str, s: &toml::Spanned<String>| {
            let at = ExprSource::in_toml(file, key, &control.text, s.span().start);
            cel::compile(s.get_ref(), &at, &declared)
        };
        let logic = &spec.logic;
        let applies = logic
            .applies
            .as_ref()
            .map(|s| compile("logic.applies", s))
            .transpose()?;
        let pass = compile("logic.pass", &logic.pass)?;
        let actual = logic
            .actual
            .as_ref()
            .map(|s| compile("logic.actual", s))
            .transpose()?;
        let params_value =
            cel::map_value(params.iter().map(|(k, v)| (k.as_str(), param_to_cel(v))));
        let expected = substitute(&logic.expected, &params);
        let fail_message = logic
            .fail_message
            .as_deref()
            .map(|m| substitute(m, &params))
            .unwrap_or_else(|| spec.evaluation.clone());
        Ok(CompiledControl {
            spec: Arc::new(spec.clone()),
            params,
            applies,
            pass,
            actual,
            params_value,
            expected: expected.into(),
            fail_message: fail_message.into(),
            empty: "".into(),
        })
    }

    /// Evaluates the control on a resource already bound in `ctx`. `None`
    /// means the control does not apply to this resource.
    ///
    /// The actual value is computed for failures only: a pass is its own
    /// evidence (the resource matches `expected`), and skipping the second
    /// expression keeps passes cheap.
    fn evaluate(&self, ctx: &mut Context<'_>) -> Option<(EvalResult, Evidence)> {
        ctx.add_variable_from_value("params", self.params_value.clone());
        if let Some(applies) = &self.applies {
            match run(applies, ctx) {
                Ok(Value::Bool(false)) => return None,
                Ok(Value::Bool(true)) => {}
                Ok(other) => {
                    return Some(self.skip(format!(
                        "`logic.applies` returned {} instead of a boolean",
                        cel::render(&other)
                    )))
                }
                Err(e) => return Some(self.skip(e)),
            }
        }
        let result = match run(&self.pass, ctx) {
            Ok(Value::Bool(true)) => EvalResult::Pass,
            Ok(Value::Bool(false)) => EvalResult::Fail,
            Ok(other) => {
                return Some(self.skip(format!(
                    "`logic.pass` returned {} instead of a boolean",
                    cel::render(&other)
                )))
            }
            Err(e) => return Some(self.skip(e)),
        };
        let (actual, message) = match (result, &self.actual) {
            (EvalResult::Fail, Some(p)) => (
                match run(p, ctx) {
                    Ok(v) => cel::render(&v),
                    Err(e) => format!("({e})"),
                },
                self.fail_message.clone(),
            ),
            (EvalResult::Fail, None) => (String::new(), self.fail_message.clone()),
            _ => (String::new(), self.empty.clone()),
        };
        Some((
            result,
            Evidence {
                expected: self.expected.clone(),
                actual,
                message,
            },
        ))
    }

    fn skip(&self, why: String) -> (EvalResult, Evidence) {
        (
            EvalResult::Skip,
            Evidence {
                expected: self.expected.clone(),
                actual: String::new(),
                message: why.into(),
            },
        )
    }
}

/// Runs a program, turning errors (and the interpreter's panics on shapes it
/// does not support, such as a comprehension over null) into a reason to skip.
fn run(p: &Program, ctx: &Context<'_>) -> Result<Value, String> {
    match cel::quietly(|| p.execute(ctx)) {
        Some(Ok(v)) => Ok(v),
        Some(Err(ExecutionError::NoSuchKey(k))) => {
            Err(format!("attribute `{k}` was not collected for this resource"))
        }
        Some(Err(other)) => Err(format!("evaluation error: {other}")),
        None => Err("evaluation error: the data has a shape the expression cannot handle (e.g. a list that is null)".into()),
    }
}

fn param_to_cel(v: &ParamValue) -> Value {
    match v {
        ParamValue::Int(i) => Value::Int(*i),
        ParamValue::Bool(b) => Value::Bool(*b),
        ParamValue::String(s) => Value::String(Arc::new(s.clone())),
        ParamValue::List(l) => Value::List(Arc::new(
            l.iter()
                .map(|s| Value::String(Arc::new(s.clone())))
                .collect(),
        )),
    }
}

/// Replaces `${name}` with the value of parameter `name`.
fn substitute(template: &str, params: &BTreeMap<String, ParamValue>) -> String {
    let mut out = template.to_string();
    for (k, v) in params {
        out = out.replace(&format!("${{{k}}}"), &v.to_string());
    }
    out
}

/// The compiled catalogue of one run, indexed by resource type so that a
/// resource meets only the controls written for its type.
pub struct Engine {
    controls: Vec<CompiledControl>,
    by_type: HashMap<String, Vec<usize>>,
    now: Value,
    uses_meta: bool,
}

impl Engine {
    /// Compiles every control. `now` is the time the run's expressions see, so
    /// that a run is reproducible.
    pub fn new(controls: &[LoadedControl], now: Timestamp) -> Result<Engine, CatalogError> {
        let compiled = controls
            .iter()
            .map(CompiledControl::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in compiled.iter().enumerate() {
            by_type
                .entry(c.spec.resource_type.clone())
                .or_default()
                .push(i);
        }
        let uses_meta = controls.iter().any(|c| {
            let l = &c.spec.logic;
            [Some(&l.pass), l.applies.as_ref(), l.actual.as_ref()]
                .into_iter()
                .flatten()
                .any(|s| s.get_ref().contains("meta"))
        });
        Ok(Engine {
            controls: compiled,
            by_type,
            now: Value::Timestamp(now.fixed_offset()),
            uses_meta,
        })
    }

    pub fn controls(&self) -> &[CompiledControl] {
        &self.controls
    }

    /// A fresh CEL context for one thread; reusing it across resources saves
    /// rebuilding the function table for every evaluation.
    pub fn context(&self) -> Context<'static> {
        let mut ctx = Context::default();
        ctx.add_variable_from_value("now", self.now.clone());
        ctx
    }

    /// Evaluates every applicable control on one resource, appending to `out`.
    pub fn evaluate_resource(
        &self,
        ctx: &mut Context<'_>,
        index: usize,
        resource: &Resource,
        out: &mut Vec<Evaluation>,
    ) {
        let Some(ids) = self.by_type.get(&resource.resource_type) else {
            return;
        };
        let iac = matches!(resource.origin, Origin::Iac { .. });
        let connector = matches!(resource.origin, Origin::Connector { .. });
        let mut bound = false;
        for &i in ids {
            let control = &self.controls[i];
            let ty = control.spec.execution_type;
            if (iac && !ty.at_build_time()) || (connector && !ty.at_run_time()) {
                continue;
            }
            if !bound {
                self.bind(ctx, resource);
                bound = true;
            }
            if let Some((result, evidence)) = control.evaluate(ctx) {
                out.push(Evaluation {
                    resource: index,
                    cid: control.spec.cid,
                    result,
                    evidence,
                });
            }
        }
    }

    fn bind(&self, ctx: &mut Context<'_>, r: &Resource) {
        let attrs = cel::map_value(
            r.attributes
                .iter()
                .map(|(k, v)| (k.as_str(), cel::from_json(v))),
        );
        ctx.add_variable_from_value("resource", attrs);
        if self.uses_meta {
            let s = |v: &str| Value::String(Arc::new(v.to_string()));
            let tags = cel::map_value(r.tags.iter().map(|(k, v)| (k.as_str(), s(v))));
            let meta = cel::map_value(
                [
                    ("id", s(&r.id)),
                    ("name", s(&r.name)),
                    ("type", s(&r.resource_type)),
                    ("account", s(&r.account)),
                    ("region", s(&r.region)),
                    ("provider", s(r.provider.as_str())),
                    ("service", s(&r.service)),
                    ("tags", tags),
                ]
                .into_iter(),
            );
            ctx.add_variable_from_value("meta", meta);
        }
    }

    /// Evaluates all resources on all cores. `progress` is called with the
    /// number of resources finished since its last call.
    pub fn evaluate(
        &self,
        resources: &[Resource],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Evaluation> {
        const CHUNK: usize = 2048;
        let parts: Vec<Vec<Evaluation>> = resources
            .par_chunks(CHUNK)
            .enumerate()
            .map_init(
                || self.context(),
                |ctx, (n, chunk)| {
                    let mut out = Vec::with_capacity(chunk.len() * 2);
                    for (i, r) in chunk.iter().enumerate() {
                        self.evaluate_resource(ctx, n * CHUNK + i, r, &mut out);
                    }
                    progress(chunk.len());
                    out
                },
            )
            .collect();
        parts.concat()
    }
}
