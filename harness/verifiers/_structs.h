/* Fields of msgspec structs read and written by their slot offsets, and a fast text
 * comparison: what the C loops of _typed_loop.c and _split_loop.c share. */

#ifndef ACKGUARD_STRUCTS_H
#define ACKGUARD_STRUCTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

static inline int offset_of(PyObject *type, const char *name, Py_ssize_t *out)
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

#endif
