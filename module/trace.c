// SPDX-License-Identifier: GPL-2.0
/* Instantiates the memvirt:* tracepoints declared in trace.h. */
#define CREATE_TRACE_POINTS
#include "module/trace.h"
