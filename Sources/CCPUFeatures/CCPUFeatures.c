#include "CCPUFeatures.h"
