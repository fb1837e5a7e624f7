#pragma once

// The public API's routes, one header per concern; this header gathers them for the
// composition root and the handler tests.
#include "api/attach_handler.hpp"
#include "api/calls_handler.hpp"
#include "api/end_handler.hpp"
#include "api/health.hpp"
#include "api/options.hpp"
#include "api/static_pages.hpp"
#include "api/token_handler.hpp"
