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

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "_part_of.h"

enum { PENDING = 0, OK = 1, INFO = 2, FAIL = 3 };

static struct {
    PyObject *TypedLine, *OpValue, *RecordState, *Write, *CreateFields, *SentFields,
        *ObservedFields, *FinalRecord;
    PyObject *observed_decode, *created_decode, *sent_decode;  /* msgspec decoders' decode */
    PyObject *UNSET, *nothing_observed, *not_typed, *part_of, *updated;
    PyObject *s_invoke, *s_read, *s_create, *s_update, *s_list, *s_ok, *s_fail, *s_nemesis,
        *s_harness;
    PyObject *m_tally, *m_invoke, *m_completion, *m_check_identity, *m_absent, *m_check_fields,
        *m_line_value;
    PyObject *a_in_flight, *a_finals, *a_records, *a_index, *a_part, *a_others,
        *a_keyless_counted, *a_keyed, *a_tallies, *a_lines, *a_reads, *a_acknowledged_writes;
    PyObject *Digest, *interned, *by_patient;
    PyObject *a_by_practitioner, *a_by_patient;
    PyObject *one;
    Py_ssize_t L_time, L_process, L_type, L_f, L_key, L_value;
    Py_ssize_t V_practitioner_id, V_patient_id, V_started_at, V_id, V_found, V_keys, V_complete, V_seen_key,
        V_seen_practitioner_id, V_seen_patient_id, V_fields;
    Py_ssize_t R_key, R_practitioner_id, R_patient_id, R_record_id, R_ack_time, R_known_time,
        R_current, R_last_present, R_absent_reads, R_first, R_started_at, R_attempted,
        R_writes, R_creates, R_last_absent;
    Py_ssize_t W_fields, W_cmp, W_status;
    Py_ssize_t CF[4], SF[4], OF[4], FF[4];
    Py_ssize_t FR_id, FR_key, FR_fields, FR_started_at;
    PyObject *FinalFields;
    int ready;
} S;

static const char *FIELD_NAMES[4] = {"visit_reason", "exam_report", "conclusion", "prescription"};

/* ---- slots of msgspec structs ---------------------------------------------------------- */

static int offset_of(PyObject *type, const char *name, Py_ssize_t *out)
{
    PyObject *descr = PyObject_GetAttrString(type, name);
    if (descr == NULL)
        return -1;
    if (!PyObject_TypeCheck(descr, &PyMemberDescr_Type)
        || ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%R.%s is not an object slot", type, name);
        Py_DECREF(descr);
        return -1;
    }
    *out = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return 0;
}

/* A field's value, borrowed; NULL (AttributeError set) for a field left unset. */
static inline PyObject *slot(PyObject *obj, Py_ssize_t offset)
{
    PyObject *value = *(PyObject **)((char *)obj + offset);
    if (value == NULL)
        PyErr_SetString(PyExc_AttributeError, "struct field is unset");
    return value;
}

/* Sets a field (a new reference taken): the structs written here are gc=False, not frozen. */
static inline void set_slot(PyObject *obj, Py_ssize_t offset, PyObject *value)
{
    PyObject **at = (PyObject **)((char *)obj + offset);
    PyObject *old = *at;
    Py_INCREF(value);
    *at = value;
    Py_XDECREF(old);
}

#define SLOT(var, obj, offset)              \
    do {                                    \
        (var) = slot((obj), (offset));      \
        if ((var) == NULL)                  \
            goto error;                     \
    } while (0)

/* ---- small helpers --------------------------------------------------------------------- */

static inline int str_is(PyObject *text, PyObject *constant)
{
    if (text == constant)
        return 1;
    if (!PyUnicode_CheckExact(text))
        return 0;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    return length == PyUnicode_GET_LENGTH(constant)
           && PyUnicode_KIND(text) == PyUnicode_KIND(constant)
           && memcmp(PyUnicode_DATA(text), PyUnicode_DATA(constant),
                     length * PyUnicode_KIND(text)) == 0;
}

/* _text: None for null or UNSET, else str(value). New reference. */
static PyObject *text_of(PyObject *value)
{
    if (value == Py_None || value == S.UNSET)
        Py_RETURN_NONE;
    return PyObject_Str(value);
}

/* _typed_query. New reference. */
static PyObject *typed_query(PyObject *value)
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

/* counts[at] += 1 on a tally (a list of four ints). */
static int bump(PyObject *counts, Py_ssize_t at)
{
    if (!PyList_CheckExact(counts) || PyList_GET_SIZE(counts) != 4) {
        PyErr_SetString(PyExc_TypeError, "a tally is a list of four counts");
        return -1;
    }
    PyObject *more = PyNumber_Add(PyList_GET_ITEM(counts, at), S.one);
    if (more == NULL)
        return -1;
    return PyList_SetItem(counts, at, more);
}

/* The tally of f with one more invoke counted (builder._tally makes a new one). New ref. */
static PyObject *tally(PyObject *builder, PyObject *tallies, PyObject *f)
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

/* dict.pop(key, None): a new reference, or NULL with *found = 0 (no error) when absent. */
static PyObject *pop(PyObject *dict, PyObject *key, int *found)
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    *found = value != NULL;
    if (value == NULL)
        return NULL;
    Py_INCREF(value);
    if (PyDict_DelItem(dict, key) < 0) {
        Py_DECREF(value);
        *found = 1;
        return NULL;
    }
    return value;
}

static inline int status_of(PyObject *type)
{
    if (str_is(type, S.s_ok))
        return OK;
    if (str_is(type, S.s_fail))
        return FAIL;
    return INFO;  /* "info", and any other text */
}

/* The four field values of a FieldValues-like struct, as a tuple. New reference. */
static PyObject *four(PyObject *obj, const Py_ssize_t *offsets)
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
static PyObject *current_after(PyObject *current, PyObject *written)
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
static int check_identity(PyObject *builder, PyObject *record, PyObject *f, PyObject *time,
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

static int call_method(PyObject *builder, PyObject *name, PyObject *a, PyObject *b, PyObject *c,
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
static int know(PyObject *builder, PyObject *record, PyObject *time)
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
static int seen_at(PyObject *record, PyObject *inv)
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

/* ---- the loop -------------------------------------------------------------------------- */

typedef struct {
    PyObject *builder, *batch, *in_flight, *finals, *records, *index, *part, *others, *tallies;
    PyObject *part_number, *part_count;
    long number, count;  /* the part's, when both are ints that fit (else 0, 0: not used) */
    int keyless_counted;
    long long keyed, reads, acknowledged;
} Loop;

/* finals.get(key) when there are finals: borrowed, NULL with no error when absent. */
static PyObject *final_of(Loop *loop, PyObject *key)
{
    if (PyDict_GET_SIZE(loop->finals) == 0)
        return NULL;
    PyObject *found = PyDict_GetItemWithError(loop->finals, key);
    return found == Py_None ? NULL : found;
}

/* _record: the state of `key`, made by the keyed invoke `ordinal` if it is new. New ref. */
static PyObject *record_of(Loop *loop, PyObject *key, PyObject *ordinal)
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
static PyObject *invoke_write(Loop *loop, PyObject *time, PyObject *f, PyObject *key,
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
static int absent(PyObject *builder, PyObject *record, PyObject *inv, PyObject *cmp)
{
    return call_method(builder, S.m_absent, record, inv, cmp, NULL);
}

/* _list: the records a listing names were seen; a whole listing by practitioner (and patient)
 * did not see the others known to be theirs before it began. */
static int list_step(Loop *loop, PyObject *inv, PyObject *time, PyObject *query, PyObject *seen,
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

static int invoke(Loop *loop, Py_ssize_t offset, PyObject *op, PyObject *process, PyObject *f)
{
    PyObject *key, *time, *value, *started = NULL, *query = NULL, *counts = NULL;
    PyObject *record = NULL, *sent = NULL, *ordinal = NULL;
    int result = -1;
    SLOT(key, op, S.L_key);
    SLOT(time, op, S.L_time);
    SLOT(value, op, S.L_value);
    if (key == Py_None) {
        query = str_is(f, S.s_list) ? typed_query(value) : (Py_INCREF(Py_None), Py_None);
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
            PyObject *at = PyLong_FromSsize_t(offset);
            PyObject *whole = at == NULL ? NULL
                : PyObject_CallMethodOneArg(loop->batch, S.m_line_value, at);
            Py_XDECREF(at);
            if (whole == NULL)
                goto error;
            started = PyObject_CallMethodObjArgs(loop->builder, S.m_invoke, time, f, key, whole,
                                                 ordinal, Py_True, NULL);
            Py_DECREF(whole);
            goto store;
        }
        started = invoke_write(loop, time, f, key, value, sent, ordinal);
    } else {
        query = str_is(f, S.s_list) ? typed_query(value) : (Py_INCREF(Py_None), Py_None);
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
                PyObject *at = PyLong_FromSsize_t(offset);
                PyObject *whole = at == NULL ? NULL
                    : PyObject_CallMethodOneArg(loop->batch, S.m_line_value, at);
                Py_XDECREF(at);
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
        {S.FinalRecord, "started_at", &S.FR_started_at}, {S.RecordState, "first", &S.R_first},
        {S.RecordState, "started_at", &S.R_started_at},
        {S.RecordState, "attempted", &S.R_attempted}, {S.RecordState, "writes", &S.R_writes},
        {S.RecordState, "creates", &S.R_creates},
        {S.RecordState, "last_absent", &S.R_last_absent},
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
