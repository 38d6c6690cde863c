/* The history splitter's loop over a typed block, in C: harness/verifiers/history_split.py's
 * _Router.route for a block whose lines are all TypedLine, step for step.
 *
 * Why: a split of a range walks every line of it to send it to the parts that need it; in
 * Python that walk was as long as decoding the range. The Python loop stays the reference
 * (and the way for blocks read line by line); tests split both ways and compare the files.
 *
 * route(ops, block, kept, marks, holders, parts_of, unknown, base, part_of): ops one per line
 * of block (bytes of whole lines, the last maybe without its newline); kept[n] a bytearray
 * part n's lines are added to, each with its newline, straight from the block; marks[n] a
 * bytearray the places of part n's keyed invokes are added to (native int64, as array('q')
 * holds them); holders (process -> part, EVERY or None) kept from block to block; parts_of
 * (key -> part) for the keys part_of is asked about; unknown what a process not seen holds;
 * base the place of line 0.
 */

#include "_structs.h"
#include "_part_of.h"

#define EVERY (-1)

static PyObject *TypedLine, *s_invoke, *s_nemesis, *s_harness;
static Py_ssize_t L_process, L_type, L_key;

/* A part number held in `holders`: EVERY, a part, or -2 for None. */
static int held_part(PyObject *value, long *out)
{
    if (value == Py_None) {
        *out = -2;
        return 0;
    }
    *out = PyLong_AsLong(value);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

typedef struct {
    const char *start;
    Py_ssize_t size;
} Line;

/* Adds a line and its newline to part `part`'s bytearray. */
static int add(PyObject *kept, long part, Line line)
{
    PyObject *text = PyList_GET_ITEM(kept, part);
    Py_ssize_t size = PyByteArray_GET_SIZE(text);
    if (PyByteArray_Resize(text, size + line.size + 1) < 0)
        return -1;
    char *at = PyByteArray_AS_STRING(text) + size;
    memcpy(at, line.start, line.size);
    at[line.size] = '\n';
    return 0;
}

static int mark(PyObject *marks, long part, long long place)
{
    PyObject *places = PyList_GET_ITEM(marks, part);
    Py_ssize_t size = PyByteArray_GET_SIZE(places);
    int64_t value = place;
    if (PyByteArray_Resize(places, size + (Py_ssize_t)sizeof value) < 0)
        return -1;
    memcpy(PyByteArray_AS_STRING(places) + size, &value, sizeof value);
    return 0;
}

static int add_all(PyObject *kept, Py_ssize_t count, Line line)
{
    for (Py_ssize_t n = 0; n < count; n++)
        if (add(kept, n, line) < 0)
            return -1;
    return 0;
}

static PyObject *route(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (TypedLine == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "setup() was not called");
        return NULL;
    }
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError,
                        "route(ops, lines, kept, marks, holders, parts_of, unknown, base, part_of)");
        return NULL;
    }
    PyObject *ops = args[0], *block = args[1], *kept = args[2], *marks = args[3];
    PyObject *holders = args[4], *parts_of = args[5], *unknown = args[6], *part_of = args[8];
    long long base = PyLong_AsLongLong(args[7]);
    if (base == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_CheckExact(ops) || !PyBytes_CheckExact(block) || !PyList_CheckExact(kept)
        || !PyList_CheckExact(marks) || !PyDict_CheckExact(holders)
        || !PyDict_CheckExact(parts_of) || PyList_GET_SIZE(kept) != PyList_GET_SIZE(marks)
        || PyList_GET_SIZE(kept) == 0) {
        PyErr_SetString(PyExc_TypeError, "route() was given other things than the router's");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(kept);
    for (Py_ssize_t n = 0; n < count; n++)
        if (!PyByteArray_CheckExact(PyList_GET_ITEM(kept, n))
            || !PyByteArray_CheckExact(PyList_GET_ITEM(marks, n))) {
            PyErr_SetString(PyExc_TypeError, "a part's lines and marks are bytearrays");
            return NULL;
        }
    PyObject *count_obj = PyLong_FromSsize_t(count), *every = PyLong_FromLong(EVERY);
    PyObject *own_obj = NULL;
    int failed = count_obj == NULL || every == NULL;
    const char *next = PyBytes_AS_STRING(block), *end = next + PyBytes_GET_SIZE(block);
    for (Py_ssize_t offset = 0; !failed && offset < PyList_GET_SIZE(ops); offset++) {
        PyObject *op = PyList_GET_ITEM(ops, offset);
        PyObject *process, *type, *key, *value;
        long held, own;
        failed = 1;
        if (next >= end) {
            PyErr_SetString(PyExc_ValueError, "more ops than lines in the block");
            break;
        }
        const char *newline = memchr(next, '\n', end - next);
        Line line = {next, (newline == NULL ? end : newline) - next};
        next = newline == NULL ? end : newline + 1;
        if (!Py_IS_TYPE(op, (PyTypeObject *)TypedLine)) {
            PyErr_SetString(PyExc_TypeError, "a typed block holds TypedLine only");
            break;
        }
        if ((process = slot(op, L_process)) == NULL || (type = slot(op, L_type)) == NULL
            || (key = slot(op, L_key)) == NULL)
            break;
        if (PyUnicode_CheckExact(process)
            && (str_is(process, s_nemesis) || str_is(process, s_harness))) {
            failed = add_all(kept, count, line) < 0;
            continue;
        }
        value = PyDict_GetItemWithError(holders, process);
        if (value == NULL && PyErr_Occurred())
            break;
        if (held_part(value == NULL ? unknown : value, &held) < 0)
            break;
        if (!str_is(type, s_invoke)) {  /* a completion ends the op of the parts holding one */
            if (held != -2) {
                if (PyDict_SetItem(holders, process, Py_None) < 0)
                    break;
                if ((held == EVERY ? add_all(kept, count, line) : add(kept, held, line)) < 0)
                    break;
            }
            failed = 0;
            continue;
        }
        if (key == Py_None) {
            failed = PyDict_SetItem(holders, process, every) < 0
                     || add_all(kept, count, line) < 0;
            continue;
        }
        own = key_part(key, (long)count);
        if (own >= 0) {
            own_obj = PyLong_FromLong(own);
        } else {  /* a key C does not encode as part_of does: part_of, remembered */
            PyObject *found = PyDict_GetItemWithError(parts_of, key);
            if (found != NULL) {
                own_obj = Py_NewRef(found);
            } else if (!PyErr_Occurred()) {
                own_obj = PyObject_CallFunctionObjArgs(part_of, key, count_obj, NULL);
                if (own_obj != NULL && PyDict_SetItem(parts_of, key, own_obj) < 0)
                    Py_CLEAR(own_obj);
            }
            if (own_obj == NULL)
                break;
            own = PyLong_AsLong(own_obj);
        }
        if (own_obj == NULL || (own == -1 && PyErr_Occurred()) || own < 0 || own >= count) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a key's part is out of range");
            break;
        }
        if (PyDict_SetItem(holders, process, own_obj) < 0)
            break;
        Py_CLEAR(own_obj);
        long long place = base + offset;
        if (add(kept, own, line) < 0 || mark(marks, own, place) < 0)
            break;
        if (held == EVERY) {
            Py_ssize_t n;
            for (n = 0; n < count; n++)
                if (n != own && (add(kept, n, line) < 0 || mark(marks, n, place) < 0))
                    break;
            if (n < count)
                break;
        } else if (held >= 0 && held != own) {
            if (held >= count) {
                PyErr_SetString(PyExc_ValueError, "a holder's part is out of range");
                break;
            }
            if (add(kept, held, line) < 0 || mark(marks, held, place) < 0)
                break;
        }
        failed = 0;
    }
    Py_XDECREF(own_obj);
    Py_XDECREF(count_obj);
    Py_XDECREF(every);
    if (!failed && next < end) {
        PyErr_SetString(PyExc_ValueError, "more lines than ops in the block");
        failed = 1;
    }
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *setup(PyObject *module, PyObject *typed_line)
{
    (void)module;
    if (!PyType_Check(typed_line)) {
        PyErr_SetString(PyExc_TypeError, "setup(TypedLine)");
        return NULL;
    }
    if (offset_of(typed_line, "process", &L_process) < 0
        || offset_of(typed_line, "type", &L_type) < 0 || offset_of(typed_line, "key", &L_key) < 0)
        return NULL;
    Py_XSETREF(s_invoke, PyUnicode_InternFromString("invoke"));
    Py_XSETREF(s_nemesis, PyUnicode_InternFromString("nemesis"));
    Py_XSETREF(s_harness, PyUnicode_InternFromString("harness"));
    if (s_invoke == NULL || s_nemesis == NULL || s_harness == NULL)
        return NULL;
    Py_XSETREF(TypedLine, Py_NewRef(typed_line));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_O, "setup(TypedLine), once."},
    {"route", (PyCFunction)(void (*)(void))route, METH_FASTCALL,
     "What _Router.route does with a typed block."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_split_loop",
    "The history splitter's loop over a typed block, in C (see history_split.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__split_loop(void)
{
    crc_init();
    return PyModule_Create(&module);
}
