//! The apply agent's hot path, compiled: kpi-deltas corrections read from their decoded wire
//! Structs and applied onto the partition's day values, stock totals and live keys.
//!
//! Why: the apply agent was ~40 % of a worker's main thread during a backfill, spread over
//! ~8 µs of interpreted Python per correction (docs/BENCHMARKS.md). This module takes exactly the
//! steps of `projections.day_values.apply_day_batch` and `streams.retention.leaves_a_trace` on the
//! very same Python objects (msgspec Structs, dicts, the state engine's mappings), so the stored
//! state, the snapshots and every reader stay as they are; all arithmetic is on Python ints, so
//! sums beyond 64 bits stay exact. The property tests run the replay model through both paths.

use std::collections::HashMap;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple};

const QUARTERS_PER_HOUR: i64 = 4;
const QUARTERS_PER_DAY: i64 = 96;
const HOURS_PER_DAY: i64 = 24;

/// One correction, read: its origin (src id, position), quarter-hour, the non-zero count changes
/// by field index, and its two multisets (`None`: empty).
struct Correction {
    src: i64,
    position: i64,
    quarter: i64,
    counts: Vec<(usize, PyObject)>,
    reps: Option<Py<PyDict>>,
    customers: Option<Py<PyDict>>,
}

/// A scope key's corrections as the apply takes them, in their (source, offset) order.
#[pyclass(frozen, module = "salespulse_native")]
struct ScopeCorrections {
    entries: Vec<Correction>,
}

#[pymethods]
impl ScopeCorrections {
    fn __len__(&self) -> usize {
        self.entries.len()
    }
}

/// The types and names it builds and reads, given once by `streams.kpi_apply`.
#[pyclass(frozen, module = "salespulse_native")]
struct DayApplier {
    fields: Vec<Py<PyString>>,
    index_of: HashMap<String, usize>,
    open_fields: [usize; 3],
    hour_tally: PyObject,
    day_value: PyObject,
    carry: PyObject,
    src_id_of_label: PyObject,
    quarter_limit: i64,
}

#[pymethods]
impl DayApplier {
    /// `fields`: the tally's integer fields in order; `open_fields`: the names of the three
    /// stock changes; `quarter_limit`: the first quarter-hour past every event time.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        fields: Vec<String>,
        open_fields: [String; 3],
        hour_tally: PyObject,
        day_value: PyObject,
        carry: PyObject,
        src_id_of_label: PyObject,
        quarter_limit: i64,
    ) -> PyResult<Self> {
        let index_of: HashMap<String, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let mut open = [0usize; 3];
        for (slot, name) in open.iter_mut().zip(open_fields.iter()) {
            *slot = *index_of
                .get(name)
                .ok_or_else(|| PyValueError::new_err(format!("{name} is not a field")))?;
        }
        Ok(Self {
            fields: fields
                .iter()
                .map(|name| PyString::intern(py, name).unbind())
                .collect(),
            index_of,
            open_fields: open,
            hour_tally,
            day_value,
            carry,
            src_id_of_label,
            quarter_limit,
        })
    }

    /// The (scope key, `ScopeCorrections`) of a message's decoded `WireScope`s, every
    /// correction checked first: `ValueError` (or the label parser's `KeyError`) for a
    /// quarter-hour out of range, an unknown count name or a source naming no input partition.
    fn read(&self, py: Python<'_>, scopes: &Bound<'_, PyList>) -> PyResult<Py<PyList>> {
        let mut ids: HashMap<String, i64> = HashMap::new();
        let out = PyList::empty(py);
        for scope in scopes.iter() {
            let key = scope.getattr(pyo3::intern!(py, "scope_key"))?;
            let wires = scope.getattr(pyo3::intern!(py, "corrections"))?;
            let wires = wires.downcast::<PyList>()?;
            let mut entries = Vec::with_capacity(wires.len());
            for wire in wires.iter() {
                entries.push(self.read_one(py, &wire, &mut ids)?);
            }
            let scope_corrections = Py::new(py, ScopeCorrections { entries })?;
            out.append(PyTuple::new(
                py,
                [key.unbind(), scope_corrections.into_any()],
            )?)?;
        }
        Ok(out.unbind())
    }

    /// Apply the (scope key, `ScopeCorrections`) pairs as `apply_part` does after its clock:
    /// a key not live yet is listed when its corrections leave a trace, then the day values and
    /// stock totals (`apply_day_batch`). `local_day`: the quarter-hour's local day, `None` when
    /// local days are UTC days.
    #[pyo3(signature = (found, days, stocks, live, horizon_day, local_day))]
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        py: Python<'_>,
        found: &Bound<'_, PyList>,
        days: &Bound<'_, PyAny>,
        stocks: &Bound<'_, PyAny>,
        live: &Bound<'_, PyAny>,
        horizon_day: Option<i64>,
        local_day: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let one = 1i64.into_pyobject(py)?;
        for pair in found.iter() {
            let (key, scope) = scope_pair(&pair)?;
            if !live.contains(&key)? && self.leaves_a_trace(&scope.get().entries, horizon_day) {
                live.set_item(&key, &one)?;
            }
        }
        let touched = PyDict::new(py);
        let totals = PyDict::new(py);
        for pair in found.iter() {
            let (key, scope) = scope_pair(&pair)?;
            let entries = &scope.get().entries;
            let mut start = 0;
            while start < entries.len() {
                let origin = (entries[start].src, entries[start].position);
                let mut end = start + 1;
                while end < entries.len() && (entries[end].src, entries[end].position) == origin {
                    end += 1;
                }
                let group = &entries[start..end];
                self.add_stock(py, &totals, stocks, &key, group)?;
                self.apply_group(py, &touched, days, &key, group, horizon_day, local_day)?;
                start = end;
            }
        }
        for (day_key, value) in touched.iter() {
            days.set_item(day_key, value)?;
        }
        for (key, total) in totals.iter() {
            stocks.set_item(key, total)?;
        }
        Ok(())
    }
}

fn scope_pair<'py>(
    pair: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, ScopeCorrections>)> {
    let pair = pair.downcast::<PyTuple>()?;
    let scope = pair.get_item(1)?.downcast_into::<ScopeCorrections>()?;
    Ok((pair.get_item(0)?, scope))
}

impl DayApplier {
    fn read_one(
        &self,
        py: Python<'_>,
        wire: &Bound<'_, PyAny>,
        ids: &mut HashMap<String, i64>,
    ) -> PyResult<Correction> {
        let label: String = wire.getattr(pyo3::intern!(py, "source"))?.extract()?;
        let src = match ids.get(&label) {
            Some(src) => *src,
            None => {
                let src: i64 = self
                    .src_id_of_label
                    .call1(py, (label.as_str(),))?
                    .extract(py)?;
                ids.insert(label, src);
                src
            }
        };
        let position: i64 = wire.getattr(pyo3::intern!(py, "offset"))?.extract()?;
        let quarter: i64 = wire.getattr(pyo3::intern!(py, "quarter"))?.extract()?;
        if quarter < 0 || quarter >= self.quarter_limit {
            return Err(PyValueError::new_err("quarter out of event-time range"));
        }
        let raw_counts = wire.getattr(pyo3::intern!(py, "counts"))?;
        let mut counts = Vec::new();
        for (name, value) in raw_counts.downcast::<PyDict>()?.iter() {
            let name: String = name.extract()?;
            let index = *self
                .index_of
                .get(&name)
                .ok_or_else(|| PyValueError::new_err(format!("unknown count {name:?}")))?;
            if !value.is_instance_of::<PyInt>() {
                return Err(PyTypeError::new_err(format!(
                    "count {name:?} is not an integer"
                )));
            }
            if value.is_truthy()? {
                counts.push((index, value.unbind()));
            }
        }
        Ok(Correction {
            src,
            position,
            quarter,
            counts,
            reps: non_empty(wire.getattr(pyo3::intern!(py, "reps"))?)?,
            customers: non_empty(wire.getattr(pyo3::intern!(py, "customers"))?)?,
        })
    }

    fn leaves_a_trace(&self, entries: &[Correction], horizon_day: Option<i64>) -> bool {
        let Some(horizon) = horizon_day else {
            return true;
        };
        for entry in entries {
            if entry.quarter.div_euclid(QUARTERS_PER_DAY) >= horizon
                || entry
                    .counts
                    .iter()
                    .any(|(index, _)| self.open_fields.contains(index))
            {
                return true;
            }
        }
        false
    }

    /// The three stock changes of a group summed, or `None` when all three are zero.
    fn open_sum(&self, py: Python<'_>, group: &[Correction]) -> PyResult<Option<[PyObject; 3]>> {
        let mut sums: [PyObject; 3] =
            std::array::from_fn(|_| 0i64.into_pyobject(py).unwrap().into_any().unbind());
        let mut any = false;
        for entry in group {
            for (index, delta) in &entry.counts {
                if let Some(slot) = self.open_fields.iter().position(|f| f == index) {
                    sums[slot] = sums[slot].bind(py).add(delta.bind(py))?.unbind();
                    any = true;
                }
            }
        }
        if !any {
            return Ok(None);
        }
        for sum in &sums {
            if sum.bind(py).is_truthy()? {
                return Ok(Some(sums));
            }
        }
        Ok(None)
    }

    /// `_add_stock`: the group's stock changes added once to the key's total.
    fn add_stock(
        &self,
        py: Python<'_>,
        totals: &Bound<'_, PyDict>,
        stocks: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        group: &[Correction],
    ) -> PyResult<()> {
        if stocks.is_none() {
            return Ok(());
        }
        let Some(sums) = self.open_sum(py, group)? else {
            return Ok(());
        };
        let total = match totals.get_item(key)? {
            Some(total) => total,
            None => {
                let stored = stocks.call_method1(pyo3::intern!(py, "get"), (key,))?;
                let total = if stored.is_truthy()? {
                    stored
                } else {
                    self.carry.bind(py).call0()?
                };
                totals.set_item(key, &total)?;
                total
            }
        };
        let (src, position) = (group[0].src, group[0].position);
        let marks = total.getattr(pyo3::intern!(py, "marks"))?;
        let marks = marks.downcast::<PyDict>()?;
        if position <= mark_of(marks, src)? {
            return Ok(());
        }
        let names = [
            pyo3::intern!(py, "open_deals"),
            pyo3::intern!(py, "open_amount"),
            pyo3::intern!(py, "open_weighted"),
        ];
        for (name, sum) in names.iter().zip(sums.iter()) {
            let value = total.getattr(name)?.add(sum.bind(py))?;
            total.setattr(name, value)?;
        }
        marks.set_item(src, position)?;
        Ok(())
    }

    /// The group's quarters, day by day (first-touch order), onto each kept day's value.
    #[allow(clippy::too_many_arguments)]
    fn apply_group(
        &self,
        py: Python<'_>,
        touched: &Bound<'_, PyDict>,
        days: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        group: &[Correction],
        horizon_day: Option<i64>,
        local_day: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut day_order: Vec<i64> = Vec::new();
        for entry in group {
            let day = entry.quarter.div_euclid(QUARTERS_PER_DAY);
            if !day_order.contains(&day) {
                day_order.push(day);
            }
        }
        for day in day_order {
            if horizon_day.is_some_and(|horizon| day < horizon) {
                continue;
            }
            let day_key = PyTuple::new(py, [key.clone(), day.into_pyobject(py)?.into_any()])?;
            let value = match touched.get_item(&day_key)? {
                Some(value) => value,
                None => {
                    let stored = days.call_method1(pyo3::intern!(py, "get"), (&day_key,))?;
                    let value = if stored.is_none() {
                        self.day_value.bind(py).call0()?
                    } else {
                        stored
                    };
                    touched.set_item(&day_key, &value)?;
                    value
                }
            };
            let in_day = group
                .iter()
                .filter(|e| e.quarter.div_euclid(QUARTERS_PER_DAY) == day);
            self.apply_origin(
                py,
                &value,
                group[0].src,
                group[0].position,
                in_day,
                local_day,
            )?;
        }
        Ok(())
    }

    /// `apply_origin`: the quarters of one (src, position) inside one day value, unless its
    /// mark shows them applied.
    fn apply_origin<'a>(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        src: i64,
        position: i64,
        quarters: impl Iterator<Item = &'a Correction>,
        local_day: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let marks = value.getattr(pyo3::intern!(py, "marks"))?;
        let marks = marks.downcast::<PyDict>()?;
        if position <= mark_of(marks, src)? {
            return Ok(());
        }
        let hours = value.getattr(pyo3::intern!(py, "hours"))?;
        let hours = hours.downcast::<PyDict>()?;
        let local = match local_day {
            Some(_) => Some(value.getattr(pyo3::intern!(py, "local"))?),
            None => None,
        };
        for entry in quarters {
            let hour = entry
                .quarter
                .div_euclid(QUARTERS_PER_HOUR)
                .rem_euclid(HOURS_PER_DAY);
            self.add_part(py, hours, hour.into_pyobject(py)?.as_any(), entry)?;
            if let (Some(local_day), Some(local)) = (local_day, local.as_ref()) {
                let index = local_day.call1((entry.quarter,))?;
                self.add_part(py, local.downcast::<PyDict>()?, &index, entry)?;
            }
        }
        marks.set_item(src, position)?;
        Ok(())
    }

    /// `_add_part`: one correction onto the tally at `index`, which goes once it holds nothing.
    fn add_part(
        &self,
        py: Python<'_>,
        parts: &Bound<'_, PyDict>,
        index: &Bound<'_, PyAny>,
        entry: &Correction,
    ) -> PyResult<()> {
        let part = match parts.get_item(index)? {
            Some(part) => part,
            None => {
                let part = self.hour_tally.bind(py).call0()?;
                parts.set_item(index, &part)?;
                part
            }
        };
        // Emptiness is only possible when nothing changed, a field reached zero or a member
        // left: otherwise a value that held something, or a new one given something, holds it.
        let mut changed = false;
        let mut maybe_empty = false;
        for (index, delta) in &entry.counts {
            let name = self.fields[*index].bind(py);
            let value = part.getattr(name)?.add(delta.bind(py))?;
            maybe_empty |= !value.is_truthy()?;
            part.setattr(name, value)?;
            changed = true;
        }
        for (members, name) in [
            (&entry.reps, pyo3::intern!(py, "reps")),
            (&entry.customers, pyo3::intern!(py, "customers")),
        ] {
            if let Some(members) = members {
                let target = part.getattr(name)?;
                let (bumped, removed) = bump_all(target.downcast::<PyDict>()?, members.bind(py))?;
                changed |= bumped;
                maybe_empty |= removed;
            }
        }
        maybe_empty |= !changed;
        if maybe_empty && self.is_empty(py, &part)? {
            parts.del_item(index)?;
        }
        Ok(())
    }

    fn is_empty(&self, py: Python<'_>, part: &Bound<'_, PyAny>) -> PyResult<bool> {
        for name in &self.fields {
            if part.getattr(name.bind(py))?.is_truthy()? {
                return Ok(false);
            }
        }
        let reps = part.getattr(pyo3::intern!(py, "reps"))?;
        let customers = part.getattr(pyo3::intern!(py, "customers"))?;
        Ok(!reps.is_truthy()? && !customers.is_truthy()?)
    }
}

/// `_bump_all`: members' counts changed, a member at zero removed. (Any member changed, one
/// was removed.)
fn bump_all(target: &Bound<'_, PyDict>, other: &Bound<'_, PyDict>) -> PyResult<(bool, bool)> {
    let mut changed = false;
    let mut removed = false;
    for (member, delta) in other.iter() {
        if !delta.is_truthy()? {
            continue;
        }
        changed = true;
        let value = match target.get_item(&member)? {
            Some(old) => old.add(&delta)?,
            None => delta,
        };
        if value.is_truthy()? {
            target.set_item(&member, value)?;
        } else {
            target.del_item(&member)?;
            removed = true;
        }
    }
    Ok((changed, removed))
}

fn mark_of(marks: &Bound<'_, PyDict>, src: i64) -> PyResult<i64> {
    match marks.get_item(src)? {
        Some(mark) => mark.extract(),
        None => Ok(-1),
    }
}

fn non_empty(value: Bound<'_, PyAny>) -> PyResult<Option<Py<PyDict>>> {
    let dict = value.downcast_into::<PyDict>()?;
    Ok(if dict.is_empty() {
        None
    } else {
        Some(dict.unbind())
    })
}

#[pymodule]
fn salespulse_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<DayApplier>()?;
    module.add_class::<ScopeCorrections>()?;
    Ok(())
}
