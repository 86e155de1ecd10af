/* mm2_config.h - the test firmware's settings of the legacy layer
 * (-DMM2_CONFIG_H='"mm2_config.h"'): its stats command reads the pending
 * count and total of mmcb, so the layer keeps them current. The reference
 * lives in the first 8 bytes (ram_start/end_sector_id), away from them. */
#define MM2_ON_COUNTS(csd, src, c)                                               \
    do {                                                                         \
        (csd)->mmcb.pending_by_source[(src)].pending_count = (c).pending_count;  \
        (csd)->mmcb.total_records = (c).total_count;                             \
    } while (0)
