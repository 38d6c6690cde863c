/* The index builder's loop over a typed block, in C: harness/verifiers/index.py's
 * _Builder._typed, step for step, on the same objects.
 *
 * Why: that loop runs once per history line (a million times for a million ops) and is most
 * of a verification's time in Python. Here the steps of creates, updates, reads and listings
 * are done in place (_invoke_write, _record, _share, _know and _list with them; fields read
 * from msgspec structs by their slot offsets); each rarer step (a value that does not fit the
 * types, a misread, a miss, a field value other than the last acknowledged, a new kind of op)
 * calls the builder's own Python method. The Python loop stays the reference: tests build
 * indexes both ways and compare them.
 *
 * setup() takes the types, constants and callables once (index.py calls it on import);
 * typed_block(builder, batch) does what builder._typed(batch) does. */

#include "_typed_loop.h"
#include "_part_of.h"

struct typed_state S;

static const char *FIELD_NAMES[4] = {"visit_reason", "exam_report", "conclusion", "prescription"};

/* The whole value of the block's line at `offset`, as the reference decoder reads it: for a
 * line whose value does not fit the types (batch.line_value). New reference. */
static PyObject *whole_value(Loop *loop, Py_ssize_t offset)
{
    PyObject *at = PyLong_FromSsize_t(offset);
    PyObject *whole = at == NULL ? NULL : PyObject_CallMethodOneArg(loop->batch, S.m_line_value, at);
    Py_XDECREF(at);
    return whole;
}

/* What a keyless op keeps in flight of its query: a listing's (practitioner, patient), None
 * for any other op. New reference. */
static PyObject *query_of(PyObject *f, PyObject *value)
{
    return str_is(f, S.s_list) ? typed_query(value) : Py_NewRef(Py_None);
}

static int invoke(Loop *loop, Py_ssize_t offset, PyObject *op, PyObject *process, PyObject *f)
{
    PyObject *key, *time, *value, *started = NULL, *query = NULL, *counts = NULL;
    PyObject *record = NULL, *sent = NULL, *ordinal = NULL;
    int result = -1;
    SLOT(key, op, S.L_key);
    SLOT(time, op, S.L_time);
    SLOT(value, op, S.L_value);
    if (key == Py_None) {
        query = query_of(f, value);
        if (query == NULL)
            goto error;
        if (loop->keyless_counted) {
            counts = tally(loop->builder, loop->tallies, f);
            if (counts == NULL)
                goto error;
        } else {
            counts = Py_NewRef(Py_None);
        }
        started = PyTuple_Pack(6, f, Py_None, Py_None, time, query, counts);
        goto store;
    }
    long long number = loop->keyed++;
    if (loop->part != Py_None) {
        int own = PyDict_Contains(loop->records, key);
        if (own < 0)
            goto error;
        if (!own) {
            int other = PySet_Contains(loop->others, key), known_other = other;
            if (other < 0)
                goto error;
            if (!other) {
                long part = key_part(key, loop->count);
                if (part >= 0) {
                    other = part != loop->number;
                } else {
                    PyObject *its = PyObject_CallFunctionObjArgs(S.part_of, key,
                                                                 loop->part_count, NULL);
                    if (its == NULL)
                        goto error;
                    other = PyObject_RichCompareBool(its, loop->part_number, Py_NE);
                    Py_DECREF(its);
                    if (other < 0)
                        goto error;
                }
            }
            if (other) {  /* another part's key: it only ends what the process had in flight */
                int found;
                if (!known_other && PySet_Add(loop->others, key) < 0)
                    goto error;
                PyObject *ended = pop(loop->in_flight, process, &found);
                if (ended == NULL && found)
                    goto error;
                Py_XDECREF(ended);
                return 0;
            }
        }
    }
    ordinal = PyLong_FromLongLong(number);
    if (ordinal == NULL)
        goto error;
    if (str_is(f, S.s_read)) {
        if ((record = record_of(loop, key, ordinal)) == NULL)
            goto error;
        counts = tally(loop->builder, loop->tallies, f);
        if (counts == NULL)
            goto error;
        started = PyTuple_Pack(6, f, record, Py_None, time, Py_None, counts);
    } else if (str_is(f, S.s_create) || str_is(f, S.s_update)) {
        int create = str_is(f, S.s_create);
        PyObject *raw = S.UNSET;
        if (value != Py_None)
            SLOT(raw, value, S.V_fields);
        if (raw == S.UNSET)
            sent = PyObject_CallNoArgs(create ? S.CreateFields : S.SentFields);
        else
            sent = PyObject_CallOneArg(create ? S.created_decode : S.sent_decode, raw);
        if (sent == NULL) {
            if (!PyErr_ExceptionMatches(S.not_typed))
                goto error;
            PyErr_Clear();  /* fields that do not fit: the write is taken with its whole value */
            PyObject *whole = whole_value(loop, offset);
            if (whole == NULL)
                goto error;
            started = PyObject_CallMethodObjArgs(loop->builder, S.m_invoke, time, f, key, whole,
                                                 ordinal, Py_True, NULL);
            Py_DECREF(whole);
            goto store;
        }
        started = invoke_write(loop, time, f, key, value, sent, ordinal);
    } else {
        query = query_of(f, value);
        if (query == NULL)
            goto error;
        if ((counts = tally(loop->builder, loop->tallies, f)) == NULL)
            goto error;
        started = PyTuple_Pack(6, f, Py_None, Py_None, time, query, counts);
    }
store:
    if (started == NULL || PyDict_SetItem(loop->in_flight, process, started) < 0)
        goto error;
    result = 0;
error:
    Py_XDECREF(started);
    Py_XDECREF(query);
    Py_XDECREF(counts);
    Py_XDECREF(record);
    Py_XDECREF(sent);
    Py_XDECREF(ordinal);
    return result;
}

/* The completion of what `process` had in flight (`started`, a reference of ours). */
static int complete(Loop *loop, Py_ssize_t offset, PyObject *op, PyObject *process,
                    PyObject *type, PyObject *started)
{
    PyObject *value, *time, *raw, *observed = NULL, *decoded = NULL, *made = NULL;
    int result = -1;
    if (!PyTuple_CheckExact(started) || PyTuple_GET_SIZE(started) != 6) {
        PyErr_SetString(PyExc_TypeError, "an op in flight is a tuple of six");
        return -1;
    }
    PyObject *f = PyTuple_GET_ITEM(started, 0), *record = PyTuple_GET_ITEM(started, 1);
    PyObject *write = PyTuple_GET_ITEM(started, 2), *inv = PyTuple_GET_ITEM(started, 3);
    PyObject *query = PyTuple_GET_ITEM(started, 4), *counts = PyTuple_GET_ITEM(started, 5);
    int status = status_of(type);
    int read = str_is(f, S.s_read);
    SLOT(value, op, S.L_value);
    SLOT(time, op, S.L_time);
    if (read && status == OK && value != Py_None) {
        PyObject *found;
        SLOT(found, value, S.V_found);
        int truth = PyObject_IsTrue(found);
        if (truth < 0)
            goto error;
        if (truth) {
            SLOT(raw, value, S.V_fields);
            if (raw == S.UNSET) {
                observed = Py_NewRef(S.nothing_observed);
            } else if ((decoded = PyObject_CallOneArg(S.observed_decode, raw)) != NULL) {
                if ((observed = four(decoded, S.OF)) == NULL)
                    goto error;
            } else {
                if (!PyErr_ExceptionMatches(S.not_typed))
                    goto error;
                PyErr_Clear();  /* completed with its whole value instead */
                if (PyDict_SetItem(loop->in_flight, process, started) < 0)
                    goto error;
                PyObject *whole = whole_value(loop, offset);
                if (whole == NULL)
                    goto error;
                result = call_method(loop->builder, S.m_completion, process, type, time, whole);
                Py_DECREF(whole);
                goto error;
            }
        }
    }
    if (counts != Py_None && bump(counts, status) < 0)
        goto error;
    if (write != Py_None && record != Py_None) {
        PyObject *written, *current, *seen_key, *id;
        made = PyLong_FromLong(status);
        if (made == NULL)
            goto error;
        set_slot(write, S.W_status, made);
        Py_CLEAR(made);
        set_slot(write, S.W_cmp, time);
        if (status != OK) {
            result = 0;
            goto error;
        }
        loop->acknowledged++;
        SLOT(written, write, S.W_fields);
        SLOT(current, record, S.R_current);
        if ((made = current_after(current, written)) == NULL)
            goto error;
        set_slot(record, S.R_current, made);
        Py_CLEAR(made);
        if (value != Py_None) {
            SLOT(seen_key, value, S.V_seen_key);
            if (seen_key != S.UNSET && check_identity(loop->builder, record, f, time, value) < 0)
                goto error;
        }
        if (!str_is(f, S.s_create)) {
            result = 0;
            goto error;
        }
        if (value != Py_None) {  /* _acknowledge_create, inlined */
            SLOT(id, value, S.V_id);
            if (id != Py_None && id != S.UNSET) {
                if ((made = PyObject_Str(id)) == NULL)
                    goto error;
                if (PyDict_GET_SIZE(loop->finals) > 0) {
                    PyObject *key, *final, *final_id;
                    SLOT(key, record, S.R_key);
                    final = PyDict_GetItemWithError(loop->finals, key);
                    if (final == NULL && PyErr_Occurred())
                        goto error;
                    if (final != NULL && final != Py_None) {
                        SLOT(final_id, final, S.FR_id);
                        int same = PyObject_RichCompareBool(final_id, made, Py_EQ);
                        if (same < 0)
                            goto error;
                        if (same)  /* one text, the final read's */
                            Py_SETREF(made, Py_NewRef(final_id));
                    }
                }
                set_slot(record, S.R_record_id, made);
                Py_CLEAR(made);
            }
        }
        PyObject *acked;
        SLOT(acked, record, S.R_ack_time);
        if (acked == Py_None)
            set_slot(record, S.R_ack_time, time);
        result = know(loop->builder, record, time);
        goto error;
    }
    if (status != OK) {
        result = 0;
        goto error;
    }
    if (read && record != Py_None) {
        PyObject *seen_key, *current;
        loop->reads++;
        if (observed == NULL || value == Py_None) {
            result = absent(loop->builder, record, inv, time);
            goto error;
        }
        if (know(loop->builder, record, time) < 0 || seen_at(record, inv) < 0)
            goto error;
        SLOT(seen_key, value, S.V_seen_key);
        if (seen_key != S.UNSET && check_identity(loop->builder, record, S.s_read, time, value) < 0)
            goto error;
        SLOT(current, record, S.R_current);
        int other = PyObject_RichCompareBool(observed, current, Py_NE);
        if (other < 0)
            goto error;
        if (other)
            result = call_method(loop->builder, S.m_check_fields, record, inv, time, observed);
        else
            result = 0;
        goto error;
    }
    if (str_is(f, S.s_list)) {
        PyObject *keys, *whole;
        if (counts != Py_None)
            loop->reads++;
        if (value != Py_None) {
            SLOT(keys, value, S.V_keys);
            SLOT(whole, value, S.V_complete);
            int any = PyObject_IsTrue(keys);
            if (any < 0)
                goto error;
            if ((made = PySet_New(any ? keys : NULL)) == NULL)
                goto error;
            if (list_step(loop, inv, time, query, made, whole == Py_False) < 0)
                goto error;
        }
    }
    result = 0;
error:
    Py_XDECREF(observed);
    Py_XDECREF(decoded);
    Py_XDECREF(made);
    return result;
}

static PyObject *attr(PyObject *obj, PyObject *name)
{
    return PyObject_GetAttr(obj, name);
}

/* typed_block(builder, batch): builder._typed(batch). */
static PyObject *typed_block(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (!S.ready) {
        PyErr_SetString(PyExc_RuntimeError, "setup() was not called");
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "typed_block(builder, batch)");
        return NULL;
    }
    Loop loop = {.builder = args[0], .batch = args[1]};
    PyObject *lines = NULL, *flag = NULL, *keyed = NULL, *total = NULL, *result = NULL;
    PyObject **own[] = {&loop.in_flight, &loop.finals, &loop.records, &loop.index, &loop.part,
                        &loop.others, &loop.tallies};
    PyObject *names[] = {S.a_in_flight, S.a_finals, S.a_records, S.a_index, S.a_part,
                         S.a_others, S.a_tallies};
    for (size_t n = 0; n < sizeof own / sizeof *own; n++)
        if ((*own[n] = attr(loop.builder, names[n])) == NULL)
            goto done;
    if (!PyDict_CheckExact(loop.in_flight) || !PyDict_CheckExact(loop.finals)
        || !PyDict_CheckExact(loop.records) || !PyDict_CheckExact(loop.tallies)
        || !PySet_CheckExact(loop.others)) {
        PyErr_SetString(PyExc_TypeError, "the builder's state is not as index.py makes it");
        goto done;
    }
    if (loop.part != Py_None) {
        if (!PyTuple_CheckExact(loop.part) || PyTuple_GET_SIZE(loop.part) != 2) {
            PyErr_SetString(PyExc_TypeError, "a part is (number, count)");
            goto done;
        }
        loop.part_number = PyTuple_GET_ITEM(loop.part, 0);
        loop.part_count = PyTuple_GET_ITEM(loop.part, 1);
        loop.number = PyLong_AsLong(loop.part_number);
        loop.count = PyLong_AsLong(loop.part_count);
        if (PyErr_Occurred())
            goto done;
        if (loop.count <= 0) {
            PyErr_SetString(PyExc_ValueError, "a part's count is positive");
            goto done;
        }
    }
    if ((flag = attr(loop.builder, S.a_keyless_counted)) == NULL)
        goto done;
    if ((loop.keyless_counted = PyObject_IsTrue(flag)) < 0)
        goto done;
    if ((keyed = attr(loop.builder, S.a_keyed)) == NULL)
        goto done;
    loop.keyed = PyLong_AsLongLong(keyed);
    if (loop.keyed == -1 && PyErr_Occurred())
        goto done;
    if ((lines = attr(loop.batch, S.a_lines)) == NULL)
        goto done;
    if (!PyList_CheckExact(lines)) {
        PyErr_SetString(PyExc_TypeError, "a batch's lines are a list");
        goto done;
    }
    int failed = 0;
    for (Py_ssize_t offset = 0; offset < PyList_GET_SIZE(lines) && !failed; offset++) {
        PyObject *op = PyList_GET_ITEM(lines, offset), *process, *type, *f;
        if (!Py_IS_TYPE(op, (PyTypeObject *)S.TypedLine)) {
            PyErr_SetString(PyExc_TypeError, "a typed batch holds TypedLine only");
            failed = 1;
            break;
        }
        if ((process = slot(op, S.L_process)) == NULL || (type = slot(op, S.L_type)) == NULL
            || (f = slot(op, S.L_f)) == NULL) {
            failed = 1;
            break;
        }
        Py_INCREF(op);  /* the list may change under a method called back */
        if (PyUnicode_CheckExact(process)
            && (str_is(process, S.s_nemesis) || str_is(process, S.s_harness))) {
            Py_DECREF(op);
            continue;
        }
        if (str_is(type, S.s_invoke)) {
            failed = invoke(&loop, offset, op, process, f) < 0;
        } else {
            int found;
            PyObject *started = pop(loop.in_flight, process, &found);
            if (started != NULL) {
                failed = complete(&loop, offset, op, process, type, started) < 0;
                Py_DECREF(started);
            } else {
                failed = found;  /* found and not popped: an error */
            }
        }
        Py_DECREF(op);
    }
    /* what the Python loop leaves behind, said even after an error: the builder is dropped */
    PyObject *number = PyLong_FromLongLong(loop.keyed);
    if (number == NULL || PyObject_SetAttr(loop.builder, S.a_keyed, number) < 0)
        failed = 1;
    Py_XDECREF(number);
    if (failed)
        goto done;
    PyObject *adds[2] = {S.a_reads, S.a_acknowledged_writes};
    long long by[2] = {loop.reads, loop.acknowledged};
    for (int n = 0; n < 2; n++) {
        PyObject *was = attr(loop.index, adds[n]);
        PyObject *more = was == NULL ? NULL : PyLong_FromLongLong(by[n]);
        total = more == NULL ? NULL : PyNumber_Add(was, more);
        Py_XDECREF(was);
        Py_XDECREF(more);
        if (total == NULL || PyObject_SetAttr(loop.index, adds[n], total) < 0)
            goto done;
        Py_CLEAR(total);
    }
    result = Py_NewRef(Py_None);
done:
    for (size_t n = 0; n < sizeof own / sizeof *own; n++)
        Py_XDECREF(*own[n]);
    Py_XDECREF(lines);
    Py_XDECREF(flag);
    Py_XDECREF(keyed);
    Py_XDECREF(total);
    return result;
}

/* ---- setup ----------------------------------------------------------------------------- */

static int take(PyObject *given, const char *name, PyObject **into)
{
    PyObject *value = PyDict_GetItemString(given, name);
    if (value == NULL) {
        PyErr_Format(PyExc_KeyError, "setup() needs %s", name);
        return -1;
    }
    Py_XSETREF(*into, Py_NewRef(value));
    return 0;
}

static int text(const char *value, PyObject **into)
{
    PyObject *made = PyUnicode_InternFromString(value);
    if (made == NULL)
        return -1;
    Py_XSETREF(*into, made);
    return 0;
}

static PyObject *setup(PyObject *module, PyObject *given)
{
    (void)module;
    if (!PyDict_Check(given)) {
        PyErr_SetString(PyExc_TypeError, "setup(dict)");
        return NULL;
    }
    S.ready = 0;
    struct { const char *name; PyObject **into; } takes[] = {
        {"TypedLine", &S.TypedLine}, {"OpValue", &S.OpValue},
        {"RecordState", &S.RecordState}, {"Write", &S.Write},
        {"CreateFields", &S.CreateFields}, {"SentFields", &S.SentFields},
        {"ObservedFields", &S.ObservedFields}, {"FinalRecord", &S.FinalRecord},
        {"observed_decode", &S.observed_decode}, {"created_decode", &S.created_decode},
        {"sent_decode", &S.sent_decode}, {"UNSET", &S.UNSET},
        {"nothing_observed", &S.nothing_observed}, {"not_typed", &S.not_typed},
        {"part_of", &S.part_of}, {"updated", &S.updated}, {"Digest", &S.Digest},
        {"interned", &S.interned}, {"FinalFields", &S.FinalFields},
        {"by_patient", &S.by_patient},
    };
    for (size_t n = 0; n < sizeof takes / sizeof *takes; n++)
        if (take(given, takes[n].name, takes[n].into) < 0)
            return NULL;
    struct { const char *value; PyObject **into; } texts[] = {
        {"invoke", &S.s_invoke}, {"read", &S.s_read}, {"create", &S.s_create},
        {"update", &S.s_update}, {"list", &S.s_list}, {"ok", &S.s_ok}, {"fail", &S.s_fail},
        {"nemesis", &S.s_nemesis}, {"harness", &S.s_harness},
        {"_tally", &S.m_tally}, {"_invoke", &S.m_invoke}, {"_completion", &S.m_completion},
        {"_check_identity", &S.m_check_identity}, {"_absent", &S.m_absent},
        {"_check_fields", &S.m_check_fields},
        {"line_value", &S.m_line_value}, {"in_flight", &S.a_in_flight},
        {"finals", &S.a_finals}, {"records", &S.a_records}, {"index", &S.a_index},
        {"part", &S.a_part}, {"others", &S.a_others},
        {"keyless_counted", &S.a_keyless_counted}, {"keyed", &S.a_keyed},
        {"tallies", &S.a_tallies}, {"lines", &S.a_lines}, {"reads", &S.a_reads},
        {"acknowledged_writes", &S.a_acknowledged_writes},
        {"by_practitioner", &S.a_by_practitioner}, {"by_patient", &S.a_by_patient},
    };
    for (size_t n = 0; n < sizeof texts / sizeof *texts; n++)
        if (text(texts[n].value, texts[n].into) < 0)
            return NULL;
    Py_XSETREF(S.one, PyLong_FromLong(1));
    if (S.one == NULL)
        return NULL;
    struct { PyObject *type; const char *name; Py_ssize_t *into; } offsets[] = {
        {S.TypedLine, "time", &S.L_time}, {S.TypedLine, "process", &S.L_process},
        {S.TypedLine, "type", &S.L_type}, {S.TypedLine, "f", &S.L_f},
        {S.TypedLine, "key", &S.L_key}, {S.TypedLine, "value", &S.L_value},
        {S.OpValue, "practitioner_id", &S.V_practitioner_id},
        {S.OpValue, "patient_id", &S.V_patient_id}, {S.OpValue, "id", &S.V_id},
        {S.OpValue, "started_at", &S.V_started_at},
        {S.OpValue, "found", &S.V_found}, {S.OpValue, "keys", &S.V_keys},
        {S.OpValue, "complete", &S.V_complete}, {S.OpValue, "seen_key", &S.V_seen_key},
        {S.OpValue, "seen_practitioner_id", &S.V_seen_practitioner_id},
        {S.OpValue, "seen_patient_id", &S.V_seen_patient_id},
        {S.OpValue, "fields", &S.V_fields}, {S.RecordState, "key", &S.R_key},
        {S.RecordState, "practitioner_id", &S.R_practitioner_id},
        {S.RecordState, "patient_id", &S.R_patient_id},
        {S.RecordState, "record_id", &S.R_record_id},
        {S.RecordState, "ack_time", &S.R_ack_time},
        {S.RecordState, "known_time", &S.R_known_time},
        {S.RecordState, "current", &S.R_current},
        {S.RecordState, "last_present", &S.R_last_present},
        {S.RecordState, "absent_reads", &S.R_absent_reads},
        {S.Write, "fields", &S.W_fields}, {S.Write, "cmp", &S.W_cmp},
        {S.Write, "status", &S.W_status}, {S.FinalRecord, "id", &S.FR_id},
        {S.FinalRecord, "key", &S.FR_key}, {S.FinalRecord, "fields", &S.FR_fields},
        {S.FinalRecord, "started_at", &S.FR_started_at},
        {S.RecordState, "started_at", &S.R_started_at},
        {S.RecordState, "attempted", &S.R_attempted}, {S.RecordState, "writes", &S.R_writes},
        {S.RecordState, "creates", &S.R_creates},
    };
    for (size_t n = 0; n < sizeof offsets / sizeof *offsets; n++)
        if (offset_of(offsets[n].type, offsets[n].name, offsets[n].into) < 0)
            return NULL;
    for (int n = 0; n < 4; n++)
        if (offset_of(S.CreateFields, FIELD_NAMES[n], &S.CF[n]) < 0
            || offset_of(S.SentFields, FIELD_NAMES[n], &S.SF[n]) < 0
            || offset_of(S.ObservedFields, FIELD_NAMES[n], &S.OF[n]) < 0
            || offset_of(S.FinalFields, FIELD_NAMES[n], &S.FF[n]) < 0)
            return NULL;
    S.ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_O, "The types, constants and callables of index.py, once."},
    {"typed_block", (PyCFunction)(void (*)(void))typed_block, METH_FASTCALL,
     "typed_block(builder, batch): what builder._typed(batch) does."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_typed_loop",
    "The index builder's loop over a typed block, in C (see index.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__typed_loop(void)
{
    crc_init();
    return PyModule_Create(&module);
}
