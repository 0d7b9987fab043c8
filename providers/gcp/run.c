/* Placeholder: the cloudrun target comes with its client (being written now). */
#include "gcp/gcp.h"

const struct ml_gcp_target_ops ml_gcp_cloudrun_ops = {
	.name = "cloudrun",
};
