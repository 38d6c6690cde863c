/* The steps of one record in the index loop in C (see _typed_loop.c): index.py's
 * _invoke_write, _record, _share, _know, _list and the fast paths of _check_identity and
 * _present, on the same objects; each calls the builder's Python method where index.py's
 * rarer cases begin. */

#include "_typed_loop.h"

/* _text: None for null or UNSET, else str(value). New reference. */
static PyObject *text_of(PyObject *value)
{
    if (value == Py_None || value == S.UNSET)
        Py_RETURN_NONE;
    return PyObject_Str(value);
}

/* _typed_query. New reference. */
PyObject *typed_query(PyObject *value)
{
    if (value == Py_None)
        Py_RETURN_NONE;
    PyObject *practitioner, *patient, *a = NULL, *b = NULL;
    SLOT(practitioner, value, S.V_practitioner_id);
    SLOT(patient, value, S.V_patient_id);
    a = text_of(practitioner);
    if (a == NULL)
        goto error;
    b = text_of(patient);
    if (b == NULL)
        goto error;
    PyObject *pair = PyTuple_Pack(2, a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return pair;
error:
    Py_XDECREF(a);
    Py_XDECREF(b);
    return NULL;
}

/* The tally of f with one more invoke counted (builder._tally makes a new one). New ref. */
PyObject *tally(PyObject *builder, PyObject *tallies, PyObject *f)
{
    PyObject *counts = PyDict_GetItemWithError(tallies, f);
    if (counts == NULL) {
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallMethodOneArg(builder, S.m_tally, f);
    }
    if (bump(counts, PENDING) < 0)
        return NULL;
    Py_INCREF(counts);
    return counts;
}

/* The four field values of a FieldValues-like struct, as a tuple. New reference. */
PyObject *four(PyObject *obj, const Py_ssize_t *offsets)
{
    PyObject *a, *b, *c, *d;
    SLOT(a, obj, offsets[0]);
    SLOT(b, obj, offsets[1]);
    SLOT(c, obj, offsets[2]);
    SLOT(d, obj, offsets[3]);
    return PyTuple_Pack(4, a, b, c, d);
error:
    return NULL;
}

/* record.current after an acknowledged write of `written`. New reference. */
PyObject *current_after(PyObject *current, PyObject *written)
{
    if (Py_IS_TYPE(written, (PyTypeObject *)S.CreateFields))
        return four(written, S.CF);
    if (Py_IS_TYPE(written, (PyTypeObject *)S.SentFields) && PyTuple_CheckExact(current)
        && PyTuple_GET_SIZE(current) == 4) {
        PyObject *merged = PyTuple_New(4);
        if (merged == NULL)
            return NULL;
        for (int n = 0; n < 4; n++) {
            PyObject *sent = slot(written, S.SF[n]);
            if (sent == NULL) {
                Py_DECREF(merged);
                return NULL;
            }
            PyObject *kept = sent == S.UNSET ? PyTuple_GET_ITEM(current, n) : sent;
            Py_INCREF(kept);
            PyTuple_SET_ITEM(merged, n, kept);
        }
        return merged;
    }
    return PyObject_CallFunctionObjArgs(S.updated, current, written, NULL);  /* taken whole */
}

/* seen != None and expected != None and seen != expected */
static int differs(PyObject *seen, PyObject *expected)
{
    if (seen == Py_None || expected == Py_None)
        return 0;
    return PyObject_RichCompareBool(seen, expected, Py_NE);
}

/* _check_identity(record, f, time, _typed_identity(value)), its Python half called only when
 * the answer names someone else. */
int check_identity(PyObject *builder, PyObject *record, PyObject *f, PyObject *time,
                          PyObject *value)
{
    PyObject *seen = NULL, *raw, *expected;
    PyObject *texts[3] = {NULL, NULL, NULL};
    const Py_ssize_t from[3] = {S.V_seen_key, S.V_seen_practitioner_id, S.V_seen_patient_id};
    const Py_ssize_t to[3] = {S.R_key, S.R_practitioner_id, S.R_patient_id};
    int other = 0, result = -1;
    for (int n = 0; n < 3; n++) {
        SLOT(raw, value, from[n]);
        texts[n] = text_of(raw);
        if (texts[n] == NULL)
            goto error;
        SLOT(expected, record, to[n]);
        int found = differs(texts[n], expected);
        if (found < 0)
            goto error;
        other |= found;
    }
    if (other) {
        seen = PyTuple_Pack(3, texts[0], texts[1], texts[2]);
        if (seen == NULL)
            goto error;
        PyObject *done = PyObject_CallMethodObjArgs(builder, S.m_check_identity, record, f,
                                                    time, seen, NULL);
        if (done == NULL)
            goto error;
        Py_DECREF(done);
    }
    result = 0;
error:
    Py_XDECREF(seen);
    for (int n = 0; n < 3; n++)
        Py_XDECREF(texts[n]);
    return result;
}

int call_method(PyObject *builder, PyObject *name, PyObject *a, PyObject *b, PyObject *c,
                       PyObject *d)
{
    PyObject *done = PyObject_CallMethodObjArgs(builder, name, a, b, c, d, NULL);
    if (done == NULL)
        return -1;
    Py_DECREF(done);
    return 0;
}

/* mapping.setdefault(key, []): borrowed. */
static PyObject *known_in(PyObject *mapping, PyObject *key)
{
    if (!PyDict_CheckExact(mapping)) {
        PyErr_SetString(PyExc_TypeError, "records known are kept in a dict");
        return NULL;
    }
    PyObject *empty = PyList_New(0);
    PyObject *listed = empty == NULL ? NULL : PyDict_SetDefault(mapping, key, empty);
    Py_XDECREF(empty);
    return listed;
}

/* _know: known_time set (the record joins its practitioner's list) or moved earlier. */
int know(PyObject *builder, PyObject *record, PyObject *time)
{
    PyObject *known, *practitioner, *by_patient = NULL, *by_practitioner = NULL, *listed;
    int result = -1;
    SLOT(known, record, S.R_known_time);
    if (known != Py_None) {
        int earlier = PyObject_RichCompareBool(time, known, Py_LT);
        if (earlier > 0)
            set_slot(record, S.R_known_time, time);
        return earlier < 0 ? -1 : 0;
    }
    set_slot(record, S.R_known_time, time);
    SLOT(practitioner, record, S.R_practitioner_id);
    if (practitioner == Py_None) {
        result = 0;
        goto error;
    }
    if ((by_practitioner = PyObject_GetAttr(builder, S.a_by_practitioner)) == NULL)
        goto error;
    if ((listed = known_in(by_practitioner, practitioner)) == NULL
        || PyList_Append(listed, record) < 0)
        goto error;
    if ((by_patient = PyObject_GetAttr(builder, S.a_by_patient)) == NULL)
        goto error;
    if (by_patient != Py_None) {
        PyObject *patient, *pair;
        SLOT(patient, record, S.R_patient_id);
        if ((pair = PyTuple_Pack(2, practitioner, patient)) == NULL)
            goto error;
        listed = known_in(by_patient, pair);
        Py_DECREF(pair);
        if (listed == NULL)
            goto error;
    } else {
        result = 0;
        goto error;
    }
    result = PyList_Append(listed, record);
error:
    Py_XDECREF(by_patient);
    Py_XDECREF(by_practitioner);
    return result;
}

/* A read saw the record at `inv`: last_present moves on, older misses are dropped. */
int seen_at(PyObject *record, PyObject *inv)
{
    PyObject *last, *absent, *kept = NULL, *item = NULL;
    SLOT(last, record, S.R_last_present);
    if (last != Py_None) {
        int later = PyObject_RichCompareBool(inv, last, Py_GT);
        if (later <= 0)
            return later;
    }
    set_slot(record, S.R_last_present, inv);
    SLOT(absent, record, S.R_absent_reads);
    int any = PyObject_IsTrue(absent);
    if (any <= 0)
        return any;
    kept = PyList_New(0);
    PyObject *iterator = kept == NULL ? NULL : PyObject_GetIter(absent);
    if (iterator == NULL)
        goto error;
    while ((item = PyIter_Next(iterator)) != NULL) {
        PyObject *began = PySequence_GetItem(item, 0);
        int after = began == NULL ? -1 : PyObject_RichCompareBool(began, inv, Py_GT);
        Py_XDECREF(began);
        if (after < 0 || (after && PyList_Append(kept, item) < 0)) {
            Py_DECREF(iterator);
            goto error;
        }
        Py_CLEAR(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred())
        goto error;
    if (PyList_GET_SIZE(kept) == 0) {
        PyObject *empty = PyTuple_New(0);
        if (empty == NULL)
            goto error;
        set_slot(record, S.R_absent_reads, empty);
        Py_DECREF(empty);
    } else {
        set_slot(record, S.R_absent_reads, kept);
    }
    Py_DECREF(kept);
    return 0;
error:
    Py_XDECREF(item);
    Py_XDECREF(kept);
    return -1;
}

/* finals.get(key) when there are finals: borrowed, NULL with no error when absent. */
static PyObject *final_of(Loop *loop, PyObject *key)
{
    if (PyDict_GET_SIZE(loop->finals) == 0)
        return NULL;
    PyObject *found = PyDict_GetItemWithError(loop->finals, key);
    return found == Py_None ? NULL : found;
}

/* _record: the state of `key`, made by the keyed invoke `ordinal` if it is new. New ref. */
PyObject *record_of(Loop *loop, PyObject *key, PyObject *ordinal)
{
    PyObject *record = PyDict_GetItemWithError(loop->records, key), *final, *final_key;
    if (record != NULL)
        return Py_NewRef(record);
    if (PyErr_Occurred())
        return NULL;
    PyObject *text = key;
    if ((final = final_of(loop, key)) != NULL) {
        SLOT(final_key, final, S.FR_key);
        if (final_key != Py_None)
            text = final_key;  /* one copy of the text, the final read's */
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *args[2] = {text, ordinal};
    record = PyObject_Vectorcall(S.RecordState, args, 2, NULL);
    if (record != NULL && PyDict_SetItem(loop->records, text, record) < 0)
        Py_CLEAR(record);
    return record;
error:
    return NULL;
}

/* _share: each digest sent equal to the final read's of its field becomes the final one. */
static int share(Loop *loop, PyObject *key, PyObject *sent)
{
    PyObject *final = final_of(loop, key), *fields, *value, *kept;
    if (final == NULL)
        return PyErr_Occurred() ? -1 : 0;
    const Py_ssize_t *at = Py_IS_TYPE(sent, (PyTypeObject *)S.CreateFields) ? S.CF : S.SF;
    SLOT(fields, final, S.FR_fields);
    if (!Py_IS_TYPE(fields, (PyTypeObject *)S.FinalFields)) {
        PyErr_SetString(PyExc_TypeError, "a final record's fields are FinalFields");
        return -1;
    }
    for (int n = 0; n < 4; n++) {
        SLOT(value, sent, at[n]);
        if (!Py_IS_TYPE(value, (PyTypeObject *)S.Digest))
            continue;
        SLOT(kept, fields, S.FF[n]);
        int same = PyObject_RichCompareBool(value, kept, Py_EQ);
        if (same < 0)
            return -1;
        if (same)
            set_slot(sent, at[n], kept);
    }
    return 0;
error:
    return -1;
}

/* (*items, item): a new tuple. */
static PyObject *grown(PyObject *items, PyObject *item)
{
    PyObject *base = PyTuple_CheckExact(items) ? Py_NewRef(items) : PySequence_Tuple(items);
    if (base == NULL)
        return NULL;
    Py_ssize_t size = PyTuple_GET_SIZE(base);
    PyObject *more = PyTuple_New(size + 1);
    if (more != NULL) {
        for (Py_ssize_t n = 0; n < size; n++)
            PyTuple_SET_ITEM(more, n, Py_NewRef(PyTuple_GET_ITEM(base, n)));
        PyTuple_SET_ITEM(more, size, Py_NewRef(item));
    }
    Py_DECREF(base);
    return more;
}

/* One owner id as _invoke_write keeps it: interned text (None for null or UNSET). New ref. */
static PyObject *owner_id(PyObject *value)
{
    if (PyUnicode_CheckExact(value)) {
        Py_INCREF(value);
        PyUnicode_InternInPlace(&value);
        return value;
    }
    return PyObject_CallOneArg(S.interned, value);
}

/* _invoke_write for a typed create or update (`value` an OpValue or None, `sent` the fields
 * as decoded). New reference to what goes in flight. */
PyObject *invoke_write(Loop *loop, PyObject *time, PyObject *f, PyObject *key,
                              PyObject *value, PyObject *sent, PyObject *ordinal)
{
    PyObject *record = NULL, *counts = NULL, *write = NULL, *writes = NULL, *creates = NULL;
    PyObject *made = NULL, *started = NULL, *was;
    if ((record = record_of(loop, key, ordinal)) == NULL)
        goto error;
    if (share(loop, key, sent) < 0)
        goto error;
    if ((counts = tally(loop->builder, loop->tallies, f)) == NULL)
        goto error;
    PyObject *args[2] = {time, sent};
    if ((write = PyObject_Vectorcall(S.Write, args, 2, NULL)) == NULL)
        goto error;
    int create = str_is(f, S.s_create);
    if (create) {
        set_slot(record, S.R_attempted, Py_True);
        PyObject *practitioner;
        SLOT(practitioner, record, S.R_practitioner_id);
        if (practitioner == Py_None && value != Py_None) {
            PyObject *given, *final, *final_started, *kept;
            SLOT(given, value, S.V_practitioner_id);
            if ((made = owner_id(given)) == NULL)
                goto error;
            set_slot(record, S.R_practitioner_id, made);
            Py_CLEAR(made);
            SLOT(given, value, S.V_patient_id);
            if ((made = owner_id(given)) == NULL)
                goto error;
            set_slot(record, S.R_patient_id, made);
            Py_CLEAR(made);
            SLOT(given, value, S.V_started_at);
            made = PyUnicode_CheckExact(given) ? Py_NewRef(given) : text_of(given);
            if (made == NULL)
                goto error;
            set_slot(record, S.R_started_at, made);
            Py_CLEAR(made);
            if ((final = final_of(loop, key)) != NULL) {
                SLOT(final_started, final, S.FR_started_at);
                SLOT(kept, record, S.R_started_at);
                int same = PyObject_RichCompareBool(final_started, kept, Py_EQ);
                if (same < 0)
                    goto error;
                if (same)  /* one text, the final read's */
                    set_slot(record, S.R_started_at, final_started);
            } else if (PyErr_Occurred()) {
                goto error;
            }
        }
    }
    SLOT(was, record, S.R_writes);
    if ((writes = grown(was, write)) == NULL)
        goto error;
    set_slot(record, S.R_writes, writes);
    if (create) {
        if (PyTuple_GET_SIZE(writes) == 1) {
            set_slot(record, S.R_creates, writes);
        } else {
            SLOT(was, record, S.R_creates);
            if ((creates = grown(was, write)) == NULL)
                goto error;
            set_slot(record, S.R_creates, creates);
        }
    }
    started = PyTuple_Pack(6, f, record, write, time, Py_None, counts);
error:
    Py_XDECREF(record);
    Py_XDECREF(counts);
    Py_XDECREF(write);
    Py_XDECREF(writes);
    Py_XDECREF(creates);
    Py_XDECREF(made);
    return started;
}

/* _absent: a read that began at `inv` (completed at `cmp`) did not see the record. */
int absent(PyObject *builder, PyObject *record, PyObject *inv, PyObject *cmp)
{
    return call_method(builder, S.m_absent, record, inv, cmp, NULL);
}

/* _list: the records a listing names were seen; a whole listing by practitioner (and patient)
 * did not see the others known to be theirs before it began. */
int list_step(Loop *loop, PyObject *inv, PyObject *time, PyObject *query, PyObject *seen,
                     int partial)
{
    PyObject *key, *listed = NULL, *by_practitioner = NULL, *keys;
    int result = -1;
    PyObject *practitioner = Py_None, *patient = Py_None;
    if (!partial && query != Py_None) {
        if (!PyTuple_CheckExact(query) || PyTuple_GET_SIZE(query) != 2) {
            PyErr_SetString(PyExc_TypeError, "a list's query is a pair");
            return -1;
        }
        practitioner = PyTuple_GET_ITEM(query, 0);
        patient = PyTuple_GET_ITEM(query, 1);
    }
    if ((keys = PyObject_GetIter(seen)) == NULL)
        return -1;
    while ((key = PyIter_Next(keys)) != NULL) {
        PyObject *record = PyDict_GetItemWithError(loop->records, key);
        Py_DECREF(key);  /* the set holds it */
        if (record == NULL) {
            if (PyErr_Occurred())
                break;
            continue;
        }
        Py_INCREF(record);
        int failed = know(loop->builder, record, time) < 0 || seen_at(record, inv) < 0;
        Py_DECREF(record);
        if (failed)
            break;
    }
    Py_DECREF(keys);
    if (PyErr_Occurred())
        return -1;
    if (practitioner == Py_None)
        return 0;
    if ((by_practitioner = PyObject_GetAttr(loop->builder, S.a_by_practitioner)) == NULL)
        return -1;
    if (patient == Py_None) {
        listed = PyDict_GetItemWithError(by_practitioner, practitioner);
    } else {
        PyObject *by_patient = PyObject_GetAttr(loop->builder, S.a_by_patient), *pair;
        if (by_patient == Py_None) {  /* kept from the first listing by patient on */
            Py_SETREF(by_patient, PyObject_CallOneArg(S.by_patient, by_practitioner));
            if (by_patient != NULL
                && PyObject_SetAttr(loop->builder, S.a_by_patient, by_patient) < 0)
                Py_CLEAR(by_patient);
        }
        if (by_patient == NULL)
            goto error;
        if (!PyDict_CheckExact(by_patient)) {
            Py_DECREF(by_patient);
            PyErr_SetString(PyExc_TypeError, "records known are kept in a dict");
            goto error;
        }
        pair = PyTuple_Pack(2, practitioner, patient);
        listed = pair == NULL ? NULL : PyDict_GetItemWithError(by_patient, pair);
        Py_XDECREF(pair);
        Py_DECREF(by_patient);  /* the builder holds it, and so the list found */
        if (pair == NULL)
            goto error;
    }
    if (listed == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto error;
    }
    if (!PyList_CheckExact(listed)) {
        listed = NULL;
        PyErr_SetString(PyExc_TypeError, "the records known of a practitioner are a list");
        goto error;
    }
    Py_INCREF(listed);  /* read by index: _absent adds to no list, but stay safe if it did */
    for (Py_ssize_t n = 0; n < PyList_GET_SIZE(listed); n++) {
        PyObject *record = PyList_GET_ITEM(listed, n), *its_key;
        SLOT(its_key, record, S.R_key);
        int there = PySet_Contains(seen, its_key);
        if (there < 0)
            goto error;
        if (!there) {
            Py_INCREF(record);
            int failed = absent(loop->builder, record, inv, time) < 0;
            Py_DECREF(record);
            if (failed)
                goto error;
        }
    }
    result = 0;
error:
    Py_XDECREF(listed);
    Py_XDECREF(by_practitioner);
    return result;
}
