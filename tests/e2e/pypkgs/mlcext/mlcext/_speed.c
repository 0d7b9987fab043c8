#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *speed_add(PyObject *self, PyObject *args)
{
	long long a, b;

	(void)self;
	if (!PyArg_ParseTuple(args, "LL", &a, &b))
		return NULL;
	return PyLong_FromLongLong(a + b);
}

static PyMethodDef speed_methods[] = {
	{"add", speed_add, METH_VARARGS, "add(a, b) -> a + b"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef speed_module = {
	PyModuleDef_HEAD_INIT, "mlcext._speed", "mldeploy test extension", -1, speed_methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speed(void)
{
	return PyModule_Create(&speed_module);
}
