/* What the two halves of the index loop in C share (_typed_loop.c: the loop, setup and the
 * module; _typed_steps.c: the steps of a record): the state setup() fills, the loop's own
 * state, and the steps. */

#ifndef ACKGUARD_TYPED_LOOP_H
#define ACKGUARD_TYPED_LOOP_H

#include "_structs.h"

enum { PENDING = 0, OK = 1, INFO = 2, FAIL = 3 };

/* The types, constants, callables and slot offsets of index.py, set once by setup(). */
struct typed_state {
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
        R_current, R_last_present, R_absent_reads, R_started_at, R_attempted, R_writes,
        R_creates;
    Py_ssize_t W_fields, W_cmp, W_status;
    Py_ssize_t CF[4], SF[4], OF[4], FF[4];
    Py_ssize_t FR_id, FR_key, FR_fields, FR_started_at;
    PyObject *FinalFields;
    int ready;
};


extern struct typed_state S;

typedef struct {
    PyObject *builder, *batch, *in_flight, *finals, *records, *index, *part, *others, *tallies;
    PyObject *part_number, *part_count;
    long number, count;  /* the part's, when both are ints that fit (else 0, 0: not used) */
    int keyless_counted;
    long long keyed, reads, acknowledged;
} Loop;

/* "ok", "fail", or INFO for "info" and any other text. */
static inline int status_of(PyObject *type)
{
    if (str_is(type, S.s_ok))
        return OK;
    if (str_is(type, S.s_fail))
        return FAIL;
    return INFO;
}

/* dict.pop(key, None): a new reference, or NULL with *found = 0 (no error) when absent. */
static inline PyObject *pop(PyObject *dict, PyObject *key, int *found)
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

/* counts[at] += 1 on a tally (a list of four ints). */
static inline int bump(PyObject *counts, Py_ssize_t at)
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

/* The steps, in _typed_steps.c: a new reference or 0 when done, NULL or -1 on an error. */
PyObject *typed_query(PyObject *value);
PyObject *tally(PyObject *builder, PyObject *tallies, PyObject *f);
PyObject *four(PyObject *obj, const Py_ssize_t *offsets);
PyObject *current_after(PyObject *current, PyObject *written);
int check_identity(PyObject *builder, PyObject *record, PyObject *f, PyObject *time,
                   PyObject *value);
int call_method(PyObject *builder, PyObject *name, PyObject *a, PyObject *b, PyObject *c,
                PyObject *d);
int know(PyObject *builder, PyObject *record, PyObject *time);
int seen_at(PyObject *record, PyObject *inv);
PyObject *record_of(Loop *loop, PyObject *key, PyObject *ordinal);
PyObject *invoke_write(Loop *loop, PyObject *time, PyObject *f, PyObject *key, PyObject *value,
                       PyObject *sent, PyObject *ordinal);
int absent(PyObject *builder, PyObject *record, PyObject *inv, PyObject *cmp);
int list_step(Loop *loop, PyObject *inv, PyObject *time, PyObject *query, PyObject *seen,
              int partial);

#endif
