//! Compiled controls and their evaluation over normalized resources.

use crate::catalog::LoadedControl;
use crate::cel::{self, ExprSource};
use crate::control::{ControlSpec, ParamValue};
use crate::error::CatalogError;
use crate::fast;
use cel_interpreter::{Context, ExecutionError, Program, Value};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
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

/// One expression of a control: the interpreter's program, which is the
/// reference semantics, and the fast evaluator's compiled form when the
/// expression uses only what that evaluator supports.
struct Expression {
    slow: Program,
    fast: Option<fast::Program>,
}

/// The value of an expression, from either evaluator.
enum Out<'a> {
    Fast(fast::V<'a>),
    Slow(Value),
}

impl Out<'_> {
    fn as_bool(&self) -> Option<bool> {
        match self {
            Out::Fast(v) => v.as_bool(),
            Out::Slow(Value::Bool(b)) => Some(*b),
            Out::Slow(_) => None,
        }
    }

    fn render(&self) -> String {
        match self {
            Out::Fast(v) => fast::render(v),
            Out::Slow(v) => cel::render(v),
        }
    }
}

/// The interpreter's context for one resource, bound only when an expression
/// needs the interpreter: the fast evaluator reads the resource as it is.
struct Lazy<'e, 'c, 'x> {
    engine: &'e Engine,
    ctx: &'c mut Context<'x>,
    resource: &'e Resource,
    bound: bool,
}

impl<'x> Lazy<'_, '_, 'x> {
    fn context(&mut self, params: &Value) -> &Context<'x> {
        if !self.bound {
            self.engine.bind(self.ctx, self.resource);
            self.bound = true;
        }
        self.ctx.add_variable_from_value("params", params.clone());
        self.ctx
    }
}

/// One control, compiled once per run.
pub struct CompiledControl {
    pub spec: Arc<ControlSpec>,
    pub params: BTreeMap<String, ParamValue>,
    applies: Option<Expression>,
    pass: Expression,
    actual: Option<Expression>,
    params_value: Value,
    texts: Texts,
}

/// The texts a control puts into its evidence. Every evaluation clones them;
/// [`Engine::evaluate`] gives each worker its own copies, so that threads do
/// not contend for the same reference counts.
#[derive(Clone)]
struct Texts {
    expected: Arc<str>,
    fail_message: Arc<str>,
    empty: Arc<str>,
}

impl Texts {
    /// Copies with reference counts of their own.
    fn local(&self) -> Texts {
        Texts {
            expected: Arc::from(&*self.expected),
            fail_message: Arc::from(&*self.fail_message),
            empty: Arc::from(&*self.empty),
        }
    }
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
            let (slow, ast) = cel::compile(s.get_ref(), &at, &declared)?;
            let fast = fast::compile(&ast, &params);
            Ok::<_, CatalogError>(Expression { slow, fast })
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
            texts: Texts {
                expected: expected.into(),
                fail_message: fail_message.into(),
                empty: "".into(),
            },
        })
    }

    /// Checks a control's expressions one by one, without a file: an error's
    /// `file` is the expression's key (`logic.pass`, `logic.applies`,
    /// `logic.actual`, or `parameters`) and its line and column are within
    /// that expression. For controls written through an API, where the
    /// expression, not a file, is what the author sees.
    pub fn check_expressions(spec: &ControlSpec) -> Result<(), CatalogError> {
        let params = spec
            .param_values()
            .map_err(|e| CatalogError::at("parameters", 1, 1, e))?;
        let declared: HashSet<&str> = params.keys().map(String::as_str).collect();
        let logic = &spec.logic;
        let expressions = [
            ("logic.applies", logic.applies.as_ref()),
            ("logic.pass", Some(&logic.pass)),
            ("logic.actual", logic.actual.as_ref()),
        ];
        for (key, expr) in expressions {
            if let Some(expr) = expr {
                let at = ExprSource {
                    file: key,
                    line: 1,
                    column: 1,
                    key,
                };
                cel::compile(expr.get_ref(), &at, &declared)?;
            }
        }
        Ok(())
    }

    /// Whether every expression of the control compiled for the fast
    /// evaluator (which still leaves rare shapes of data to the interpreter).
    pub fn is_fast(&self) -> bool {
        [
            Some(&self.pass),
            self.applies.as_ref(),
            self.actual.as_ref(),
        ]
        .into_iter()
        .flatten()
        .all(|e| e.fast.is_some())
    }

    /// Runs one expression: on the fast evaluator when it compiled one and
    /// `fast` allows it, otherwise (or when the data has a shape the fast
    /// evaluator leaves to the interpreter) on the interpreter.
    fn run<'a>(
        &self,
        e: &'a Expression,
        r: &'a Resource,
        lazy: &mut Lazy<'_, '_, '_>,
        fast: bool,
    ) -> Result<Out<'a>, String> {
        if let (true, Some(f)) = (fast, &e.fast) {
            match f.eval(r, lazy.engine.now_fixed) {
                Ok(v) => return Ok(Out::Fast(v)),
                Err(fast::Fail::Exec(err)) => return Err(describe(*err)),
                Err(fast::Fail::Panic) => return Err(PANICKED.into()),
                Err(fast::Fail::Deopt) => {}
            }
        }
        run(&e.slow, lazy.context(&self.params_value)).map(Out::Slow)
    }

    /// Whether the control judges the resource: false only when
    /// `logic.applies` is false (an error or a non-boolean is judged, as a
    /// skip).
    fn applies_to(&self, r: &Resource, lazy: &mut Lazy<'_, '_, '_>, fast: bool) -> bool {
        match &self.applies {
            None => true,
            Some(a) => !matches!(
                self.run(a, r, lazy, fast).map(|out| out.as_bool()),
                Ok(Some(false))
            ),
        }
    }

    /// Evaluates the control on a resource. `None` means the control does not
    /// apply to this resource.
    ///
    /// The actual value is computed for failures only: a pass is its own
    /// evidence (the resource matches `expected`), and skipping the second
    /// expression keeps passes cheap.
    fn evaluate(
        &self,
        r: &Resource,
        lazy: &mut Lazy<'_, '_, '_>,
        fast: bool,
        texts: &Texts,
    ) -> Option<(EvalResult, Evidence)> {
        if let Some(applies) = &self.applies {
            match self.run(applies, r, lazy, fast) {
                Ok(out) => match out.as_bool() {
                    Some(false) => return None,
                    Some(true) => {}
                    None => {
                        return Some(skip(
                            texts,
                            format!(
                                "`logic.applies` returned {} instead of a boolean",
                                out.render()
                            ),
                        ))
                    }
                },
                Err(e) => return Some(skip(texts, explain(r, e))),
            }
        }
        if let Some(reason) = r.suppressed.get(&self.spec.cid) {
            return Some(skip(texts, format!("suppressed in source: {reason}")));
        }
        let result = match self.run(&self.pass, r, lazy, fast) {
            Ok(out) => match out.as_bool() {
                Some(true) => EvalResult::Pass,
                Some(false) => EvalResult::Fail,
                None => {
                    return Some(skip(
                        texts,
                        format!(
                            "`logic.pass` returned {} instead of a boolean",
                            out.render()
                        ),
                    ))
                }
            },
            Err(e) => return Some(skip(texts, explain(r, e))),
        };
        let (actual, message) = match (result, &self.actual) {
            (EvalResult::Fail, Some(p)) => (
                match self.run(p, r, lazy, fast) {
                    Ok(v) => v.render(),
                    Err(e) => format!("({e})"),
                },
                texts.fail_message.clone(),
            ),
            (EvalResult::Fail, None) => (String::new(), texts.fail_message.clone()),
            _ => (String::new(), texts.empty.clone()),
        };
        Some((
            result,
            Evidence {
                expected: texts.expected.clone(),
                actual,
                message,
            },
        ))
    }
}

fn skip(texts: &Texts, why: String) -> (EvalResult, Evidence) {
    (
        EvalResult::Skip,
        Evidence {
            expected: texts.expected.clone(),
            actual: String::new(),
            message: why.into(),
        },
    )
}

/// Adds the collector's reason to "attribute `k` was not collected", when the
/// resource says why it could not collect `k` (e.g. a missing permission).
fn explain(r: &Resource, why: String) -> String {
    if r.uncollected.is_empty() {
        return why;
    }
    let key = why
        .strip_prefix("attribute `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(k, _)| k);
    match key.and_then(|k| r.uncollected.get(k).map(|reason| (k, reason))) {
        Some((k, reason)) => format!("attribute `{k}` was not collected: {reason}"),
        None => why,
    }
}

pub(crate) const PANICKED: &str = "evaluation error: the data has a shape the expression cannot handle (e.g. a list that is null)";

/// The reason to skip for an evaluation error.
pub(crate) fn describe(e: ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => {
            format!("attribute `{k}` was not collected for this resource")
        }
        other => format!("evaluation error: {other}"),
    }
}

/// Runs a program, turning errors (and the interpreter's panics on shapes it
/// does not support, such as a comprehension over null) into a reason to skip.
fn run(p: &Program, ctx: &Context<'_>) -> Result<Value, String> {
    match cel::quietly(|| p.execute(ctx)) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(describe(e)),
        None => Err(PANICKED.into()),
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
    by_type: HashMap<String, Vec<usize>, BuildHasherDefault<Fnv>>,
    now: Value,
    now_fixed: chrono::DateTime<chrono::FixedOffset>,
    uses_meta: bool,
    fast: bool,
}

impl Engine {
    /// Compiles every control. `now` is the time the run's expressions see, so
    /// that a run is reproducible.
    pub fn new(controls: &[LoadedControl], now: Timestamp) -> Result<Engine, CatalogError> {
        let compiled = controls
            .iter()
            .map(CompiledControl::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_type: HashMap<String, Vec<usize>, BuildHasherDefault<Fnv>> = HashMap::default();
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
            now_fixed: now.fixed_offset(),
            uses_meta,
            fast: true,
        })
    }

    /// Turns the fast evaluator off (`false`) or on, so that every expression
    /// runs on the interpreter, the reference semantics: for differential
    /// tests and for benchmarking one evaluator against the other.
    pub fn set_fast(&mut self, on: bool) {
        self.fast = on;
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
        self.evaluate_with(ctx, None, index, resource, out)
    }

    /// [`Engine::evaluate_resource`] with the evidence texts of one worker
    /// (indexed as the controls), or the shared ones.
    fn evaluate_with(
        &self,
        ctx: &mut Context<'_>,
        texts: Option<&[Texts]>,
        index: usize,
        resource: &Resource,
        out: &mut Vec<Evaluation>,
    ) {
        let mut lazy = Lazy {
            engine: self,
            ctx,
            resource,
            bound: false,
        };
        for (i, control) in self.selected(resource) {
            let texts = texts.and_then(|t| t.get(i)).unwrap_or(&control.texts);
            if let Some((result, evidence)) =
                control.evaluate(resource, &mut lazy, self.fast, texts)
            {
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
    ///
    /// The evaluations are written straight into their place in the result:
    /// a first pass counts each resource's evaluations (only `logic.applies`
    /// can make that differ from the number of its type's controls), and the
    /// second evaluates, each worker taking a run of consecutive slots. This
    /// spares collecting per-chunk vectors and copying them into the result,
    /// which cost more than the evaluations themselves: hundreds of megabytes
    /// of fresh memory, touched by one thread.
    pub fn evaluate(
        &self,
        resources: &[Resource],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Evaluation> {
        let mut counts: Vec<usize> = Vec::with_capacity(resources.len());
        resources
            .par_iter()
            .with_min_len(1024)
            .map_init(
                || self.context(),
                |ctx, r| {
                    let n = self.count(ctx, r);
                    if n == 0 {
                        progress(1);
                    }
                    n
                },
            )
            .collect_into_vec(&mut counts);
        let mut offsets = Vec::with_capacity(resources.len() + 1);
        let mut total = 0;
        offsets.push(0);
        for n in counts {
            total += n;
            offsets.push(total);
        }
        let mut out = Vec::with_capacity(total);
        (0..total)
            .into_par_iter()
            .with_min_len(4096)
            .map_init(
                || Cursor {
                    engine: self,
                    resources,
                    offsets: &offsets,
                    ctx: self.context(),
                    texts: self.controls.iter().map(|c| c.texts.local()).collect(),
                    progress,
                    done: 0,
                    resource: 0,
                    end: 0,
                    pending: Vec::new(),
                },
                |cursor, slot| cursor.take(slot),
            )
            .collect_into_vec(&mut out);
        out
    }

    /// How many evaluations a resource gets: its type's controls for its
    /// origin, less those whose `logic.applies` is false for it.
    fn count(&self, ctx: &mut Context<'_>, resource: &Resource) -> usize {
        let mut lazy = Lazy {
            engine: self,
            ctx,
            resource,
            bound: false,
        };
        self.selected(resource)
            .filter(|(_, c)| c.applies_to(resource, &mut lazy, self.fast))
            .count()
    }

    /// The controls (with their index) for a resource's type and origin.
    fn selected<'a>(
        &'a self,
        resource: &Resource,
    ) -> impl Iterator<Item = (usize, &'a CompiledControl)> + 'a {
        let iac = matches!(resource.origin, Origin::Iac { .. });
        let connector = matches!(resource.origin, Origin::Connector { .. });
        self.by_type
            .get(&resource.resource_type)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|&i| self.controls.get(i).map(|c| (i, c)))
            .filter(move |(_, c)| {
                let ty = c.spec.execution_type;
                (!iac || ty.at_build_time()) && (!connector || ty.at_run_time())
            })
    }
}

/// A worker's position in the evaluations of [`Engine::evaluate`]: the
/// resource whose evaluations it is handing out, and those still to hand out
/// (last first).
struct Cursor<'e> {
    engine: &'e Engine,
    resources: &'e [Resource],
    /// Where each resource's evaluations start, and the total at the end.
    offsets: &'e [usize],
    ctx: Context<'static>,
    texts: Vec<Texts>,
    progress: &'e (dyn Fn(usize) + Sync),
    /// Resources finished and not yet reported.
    done: usize,
    resource: usize,
    /// The slot after the current resource's evaluations.
    end: usize,
    pending: Vec<Evaluation>,
}

impl Cursor<'_> {
    fn take(&mut self, slot: usize) -> Evaluation {
        if slot >= self.end || self.end - slot != self.pending.len() {
            self.load(slot);
        }
        let last = slot + 1 == self.end;
        let evaluation = self.pending.pop();
        if last {
            self.done += 1;
            if self.done >= 1024 {
                (self.progress)(self.done);
                self.done = 0;
            }
        }
        evaluation.unwrap_or_else(|| Evaluation {
            // Evaluations are deterministic, so the count of the first pass
            // holds; this is never reached.
            resource: self.resource,
            cid: 0,
            result: EvalResult::Skip,
            evidence: Evidence {
                expected: "".into(),
                actual: String::new(),
                message: "internal error: the evaluations of this resource changed between passes"
                    .into(),
            },
        })
    }

    /// Evaluates the resource that `slot` belongs to, keeping its
    /// evaluations from `slot` on.
    fn load(&mut self, slot: usize) {
        let next = self.resource + 1;
        let r = if slot == self.end && self.offsets.get(next) == Some(&slot) {
            // The common case: the next resource(s), skipping any without
            // evaluations.
            next + self.offsets[next..].partition_point(|&o| o <= slot) - 1
        } else {
            self.offsets
                .partition_point(|&o| o <= slot)
                .saturating_sub(1)
        };
        self.resource = r;
        self.end = self.offsets.get(r + 1).copied().unwrap_or(slot);
        self.pending.clear();
        if let Some(resource) = self.resources.get(r) {
            self.engine.evaluate_with(
                &mut self.ctx,
                Some(&self.texts),
                r,
                resource,
                &mut self.pending,
            );
        }
        self.pending.reverse();
        let skip = slot.saturating_sub(self.offsets.get(r).copied().unwrap_or(slot));
        let keep = self.pending.len().saturating_sub(skip);
        self.pending.truncate(keep);
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        if self.done > 0 {
            (self.progress)(self.done);
        }
    }
}

/// FNV-1a, for the index of controls by resource type: a handful of short
/// keys, looked up once per resource, where SipHash would cost more than the
/// lookup.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}
