"""The bridge to the C core (middle layer: the only importer of the cffi module).

A package split by concern (_core, convert, handle, codec, procfs, conn,
conn_cols, batch, thin); callers use `pyipvs._native.NAME` and this file re-exports
every name they use, each imported on first use (see _LAZY).

Model objects go in and come out; C structs, pointers and malloc'ed arrays
never leave this package. Every negative return code of the core becomes an
exception here, in `check`, the one place that maps them. Arrays the core
allocates are freed before the function that received them returns.

Conversion from C is on the hot path of listings (hundreds of thousands of
servers), so it reads arrays with struct layouts derived from cffi, avoids
per-object enum construction and repeated address parsing (enum members come
from dicts, addresses and names from a per-call cache), and all-zero counters
share one `Stats` instance.
"""

from pyipvs import _lazy

# Every name is imported on first use (PEP 562): pyipvsadm's thin start
# (pyipvs/cli/ipvsadm/quick.py) imports this package for `thin` alone, which
# must not pull in _core (the model, the errors, dataclasses, enum,
# ipaddress). Not typing.TYPE_CHECKING: typing is start-up cost too (mypy
# takes any constant of that name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyipvs._native._core import (
        CMD_DEL_DAEMON as CMD_DEL_DAEMON,
    )
    from pyipvs._native._core import (
        CMD_DEL_DEST as CMD_DEL_DEST,
    )
    from pyipvs._native._core import (
        CMD_DEL_SERVICE as CMD_DEL_SERVICE,
    )
    from pyipvs._native._core import (
        CMD_FLUSH as CMD_FLUSH,
    )
    from pyipvs._native._core import (
        CMD_GET_CONFIG as CMD_GET_CONFIG,
    )
    from pyipvs._native._core import (
        CMD_GET_DAEMON as CMD_GET_DAEMON,
    )
    from pyipvs._native._core import (
        CMD_GET_INFO as CMD_GET_INFO,
    )
    from pyipvs._native._core import (
        CMD_GET_SERVICE as CMD_GET_SERVICE,
    )
    from pyipvs._native._core import (
        CMD_NEW_DAEMON as CMD_NEW_DAEMON,
    )
    from pyipvs._native._core import (
        CMD_NEW_DEST as CMD_NEW_DEST,
    )
    from pyipvs._native._core import (
        CMD_NEW_SERVICE as CMD_NEW_SERVICE,
    )
    from pyipvs._native._core import (
        CMD_SET_DEST as CMD_SET_DEST,
    )
    from pyipvs._native._core import (
        CMD_SET_SERVICE as CMD_SET_SERVICE,
    )
    from pyipvs._native._core import (
        CMD_ZERO as CMD_ZERO,
    )
    from pyipvs._native._core import (
        MSG_MAX as MSG_MAX,
    )
    from pyipvs._native._core import (
        NLM_DOIT as NLM_DOIT,
    )
    from pyipvs._native._core import (
        NLM_DUMP as NLM_DUMP,
    )
    from pyipvs._native._core import (
        NLM_REQUEST as NLM_REQUEST,
    )
    from pyipvs._native._core import (
        _error as _error,
    )
    from pyipvs._native._core import (
        check as check,
    )
    from pyipvs._native.batch import (
        BATCH_CHUNK_MSGS as BATCH_CHUNK_MSGS,
    )
    from pyipvs._native.batch import (
        BATCH_FAILED as BATCH_FAILED,
    )
    from pyipvs._native.batch import (
        BATCH_NO_ADAPT as BATCH_NO_ADAPT,
    )
    from pyipvs._native.batch import (
        BATCH_OK as BATCH_OK,
    )
    from pyipvs._native.batch import (
        BATCH_PENDING as BATCH_PENDING,
    )
    from pyipvs._native.batch import (
        BATCH_STOP_ON_ERROR as BATCH_STOP_ON_ERROR,
    )
    from pyipvs._native.batch import (
        BATCH_STOP_ON_LOST as BATCH_STOP_ON_LOST,
    )
    from pyipvs._native.batch import (
        BATCH_UNKNOWN as BATCH_UNKNOWN,
    )
    from pyipvs._native.batch import (
        CMD_SET_CONFIG as CMD_SET_CONFIG,
    )
    from pyipvs._native.batch import (
        RESTORE_END as RESTORE_END,
    )
    from pyipvs._native.batch import (
        RESTORE_FULL as RESTORE_FULL,
    )
    from pyipvs._native.batch import (
        RESTORE_SLOW as RESTORE_SLOW,
    )
    from pyipvs._native.batch import (
        Batch as Batch,
    )
    from pyipvs._native.batch import (
        BatchReport as BatchReport,
    )
    from pyipvs._native.batch import (
        RestoreScan as RestoreScan,
    )
    from pyipvs._native.codec import (
        decode_daemon as decode_daemon,
    )
    from pyipvs._native.codec import (
        decode_info as decode_info,
    )
    from pyipvs._native.codec import (
        decode_server as decode_server,
    )
    from pyipvs._native.codec import (
        decode_service as decode_service,
    )
    from pyipvs._native.codec import (
        decode_timeouts as decode_timeouts,
    )
    from pyipvs._native.codec import (
        encode_daemon as encode_daemon,
    )
    from pyipvs._native.codec import (
        encode_dest as encode_dest,
    )
    from pyipvs._native.codec import (
        encode_dests_dump as encode_dests_dump,
    )
    from pyipvs._native.codec import (
        encode_service as encode_service,
    )
    from pyipvs._native.codec import (
        encode_timeouts as encode_timeouts,
    )
    from pyipvs._native.conn import (
        CONN_BY_CLIENT as CONN_BY_CLIENT,
    )
    from pyipvs._native.conn import (
        CONN_BY_DADDR as CONN_BY_DADDR,
    )
    from pyipvs._native.conn import (
        CONN_BY_DPORT as CONN_BY_DPORT,
    )
    from pyipvs._native.conn import (
        CONN_BY_ORIGIN as CONN_BY_ORIGIN,
    )
    from pyipvs._native.conn import (
        CONN_BY_PROTO as CONN_BY_PROTO,
    )
    from pyipvs._native.conn import (
        CONN_BY_STATE as CONN_BY_STATE,
    )
    from pyipvs._native.conn import (
        CONN_BY_VADDR as CONN_BY_VADDR,
    )
    from pyipvs._native.conn import (
        CONN_BY_VPORT as CONN_BY_VPORT,
    )
    from pyipvs._native.conn import (
        CONN_ORIGIN_LOCAL as CONN_ORIGIN_LOCAL,
    )
    from pyipvs._native.conn import (
        CONN_ORIGIN_NONE as CONN_ORIGIN_NONE,
    )
    from pyipvs._native.conn import (
        CONN_ORIGIN_SYNC as CONN_ORIGIN_SYNC,
    )
    from pyipvs._native.conn import (
        CONN_PROTO_UNKNOWN as CONN_PROTO_UNKNOWN,
    )
    from pyipvs._native.conn import (
        CONN_STATE_CODES as CONN_STATE_CODES,
    )
    from pyipvs._native.conn import (
        CONN_STATE_NAMES as CONN_STATE_NAMES,
    )
    from pyipvs._native.conn import (
        CONN_TABLE_CONN as CONN_TABLE_CONN,
    )
    from pyipvs._native.conn import (
        CONN_TABLE_SYNC as CONN_TABLE_SYNC,
    )
    from pyipvs._native.conn import (
        ConnCounts as ConnCounts,
    )
    from pyipvs._native.conn import (
        ConnMatch as ConnMatch,
    )
    from pyipvs._native.conn import (
        ConnReader as ConnReader,
    )
    from pyipvs._native.conn import (
        GroupTuple as GroupTuple,
    )
    from pyipvs._native.conn_cols import (
        Columns as Columns,
    )
    from pyipvs._native.handle import (
        Handle as Handle,
    )
    from pyipvs._native.procfs import (
        PROC_APP as PROC_APP,
    )
    from pyipvs._native.procfs import (
        PROC_STATS as PROC_STATS,
    )
    from pyipvs._native.procfs import (
        PROC_STATS_PERCPU as PROC_STATS_PERCPU,
    )
    from pyipvs._native.procfs import (
        parse_app_helpers as parse_app_helpers,
    )
    from pyipvs._native.procfs import (
        parse_global_stats as parse_global_stats,
    )
    from pyipvs._native.procfs import (
        parse_global_stats_percpu as parse_global_stats_percpu,
    )
    from pyipvs._native.procfs import (
        procstat_read as procstat_read,
    )
    from pyipvs._native.procfs import (
        sysctl_list as sysctl_list,
    )
    from pyipvs._native.procfs import (
        sysctl_read as sysctl_read,
    )
    from pyipvs._native.procfs import (
        sysctl_write as sysctl_write,
    )
    from pyipvs._native.records import (
        RECORD_SVC_ID as RECORD_SVC_ID,
    )
    from pyipvs._native.records import (
        read_records as read_records,
    )
    from pyipvs._native.records import (
        record_key as record_key,
    )
    from pyipvs._native.records import (
        record_server as record_server,
    )
    from pyipvs._native.records import (
        record_service as record_service,
    )
    from pyipvs._native.records import (
        restore_records as restore_records,
    )
    from pyipvs._native.replay import (
        REPLAY_DESTS as REPLAY_DESTS,
    )
    from pyipvs._native.replay import (
        REPLAY_SERVICES as REPLAY_SERVICES,
    )
    from pyipvs._native.replay import (
        frame as frame,
    )
    from pyipvs._native.replay import (
        replay_servers as replay_servers,
    )
    from pyipvs._native.replay import (
        replay_services as replay_services,
    )
    from pyipvs._native.snapshot import (
        LIST_EXACT as LIST_EXACT,
    )
    from pyipvs._native.snapshot import (
        LIST_NOSORT as LIST_NOSORT,
    )
    from pyipvs._native.snapshot import (
        LIST_PERSISTENT as LIST_PERSISTENT,
    )
    from pyipvs._native.snapshot import (
        LIST_RATE as LIST_RATE,
    )
    from pyipvs._native.snapshot import (
        LIST_SAVE as LIST_SAVE,
    )
    from pyipvs._native.snapshot import (
        LIST_STATS as LIST_STATS,
    )
    from pyipvs._native.snapshot import (
        LIST_THRESHOLDS as LIST_THRESHOLDS,
    )
    from pyipvs._native.snapshot import (
        LIST_TUN_INFO as LIST_TUN_INFO,
    )
    from pyipvs._native.snapshot import (
        CounterColumns as CounterColumns,
    )
    from pyipvs._native.snapshot import (
        TableRead as TableRead,
    )
    from pyipvs._native.snapshot import (
        read_counters as read_counters,
    )
    from pyipvs._native.snapshot import (
        read_table as read_table,
    )
    from pyipvs._native.snapshot import (
        read_table_text as read_table_text,
    )
    from pyipvs._native.snapshot import (
        table_text as table_text,
    )
    from pyipvs._native.thin import (
        LIST_OPTION_MODES as LIST_OPTION_MODES,
    )
    from pyipvs._native.thin import (
        ConnText as ConnText,
    )
    from pyipvs._native.thin import (
        info_and_table as info_and_table,
    )
    from pyipvs._pyipvs_cffi import (
        ffi as ffi,
    )
    from pyipvs._pyipvs_cffi import (
        lib as lib,
    )

# Name -> submodule of this package (or, with a dot, the module's full
# name). The batch engine, connection tables, /proc files, recorded dumps
# and whole-table reads are start-up cost for a pyipvsadm run that needs none
# of them (each module costs a few milliseconds here, about 60 times that in
# the emulated test VM).
_LAZY: dict[str, str] = {
    "CMD_DEL_DAEMON": "_core",
    "CMD_DEL_DEST": "_core",
    "CMD_DEL_SERVICE": "_core",
    "CMD_FLUSH": "_core",
    "CMD_GET_CONFIG": "_core",
    "CMD_GET_DAEMON": "_core",
    "CMD_GET_INFO": "_core",
    "CMD_GET_SERVICE": "_core",
    "CMD_NEW_DAEMON": "_core",
    "CMD_NEW_DEST": "_core",
    "CMD_NEW_SERVICE": "_core",
    "CMD_SET_DEST": "_core",
    "CMD_SET_SERVICE": "_core",
    "CMD_ZERO": "_core",
    "MSG_MAX": "_core",
    "NLM_DOIT": "_core",
    "NLM_DUMP": "_core",
    "NLM_REQUEST": "_core",
    "_error": "_core",
    "check": "_core",
    "Handle": "handle",
    "ffi": "pyipvs._pyipvs_cffi",
    "lib": "pyipvs._pyipvs_cffi",
    "BATCH_CHUNK_MSGS": "batch",
    "BATCH_FAILED": "batch",
    "BATCH_NO_ADAPT": "batch",
    "BATCH_OK": "batch",
    "BATCH_PENDING": "batch",
    "BATCH_STOP_ON_ERROR": "batch",
    "BATCH_STOP_ON_LOST": "batch",
    "BATCH_UNKNOWN": "batch",
    "CMD_SET_CONFIG": "batch",
    "RESTORE_END": "batch",
    "RESTORE_FULL": "batch",
    "RESTORE_SLOW": "batch",
    "Batch": "batch",
    "BatchReport": "batch",
    "RestoreScan": "batch",
    "decode_daemon": "codec",
    "decode_info": "codec",
    "decode_server": "codec",
    "decode_service": "codec",
    "decode_timeouts": "codec",
    "encode_daemon": "codec",
    "encode_dest": "codec",
    "encode_dests_dump": "codec",
    "encode_service": "codec",
    "encode_timeouts": "codec",
    "CONN_BY_CLIENT": "conn",
    "CONN_BY_DADDR": "conn",
    "CONN_BY_DPORT": "conn",
    "CONN_BY_ORIGIN": "conn",
    "CONN_BY_PROTO": "conn",
    "CONN_BY_STATE": "conn",
    "CONN_BY_VADDR": "conn",
    "CONN_BY_VPORT": "conn",
    "CONN_ORIGIN_LOCAL": "conn",
    "CONN_ORIGIN_NONE": "conn",
    "CONN_ORIGIN_SYNC": "conn",
    "CONN_PROTO_UNKNOWN": "conn",
    "CONN_STATE_CODES": "conn",
    "CONN_STATE_NAMES": "conn",
    "CONN_TABLE_CONN": "conn",
    "CONN_TABLE_SYNC": "conn",
    "Columns": "conn_cols",
    "ConnCounts": "conn",
    "ConnMatch": "conn",
    "ConnReader": "conn",
    "GroupTuple": "conn",
    "PROC_APP": "procfs",
    "PROC_STATS": "procfs",
    "PROC_STATS_PERCPU": "procfs",
    "parse_app_helpers": "procfs",
    "parse_global_stats": "procfs",
    "parse_global_stats_percpu": "procfs",
    "procstat_read": "procfs",
    "sysctl_list": "procfs",
    "sysctl_read": "procfs",
    "sysctl_write": "procfs",
    "REPLAY_DESTS": "replay",
    "REPLAY_SERVICES": "replay",
    "frame": "replay",
    "replay_servers": "replay",
    "replay_services": "replay",
    "RECORD_SVC_ID": "records",
    "read_records": "records",
    "record_key": "records",
    "record_server": "records",
    "record_service": "records",
    "restore_records": "records",
    "LIST_EXACT": "snapshot",
    "LIST_NOSORT": "snapshot",
    "LIST_PERSISTENT": "snapshot",
    "LIST_RATE": "snapshot",
    "LIST_SAVE": "snapshot",
    "LIST_STATS": "snapshot",
    "LIST_THRESHOLDS": "snapshot",
    "LIST_TUN_INFO": "snapshot",
    "CounterColumns": "snapshot",
    "TableRead": "snapshot",
    "read_counters": "snapshot",
    "read_table": "snapshot",
    "read_table_text": "snapshot",
    "table_text": "snapshot",
    "ConnText": "thin",
    "LIST_OPTION_MODES": "thin",
    "info_and_table": "thin",
}


__getattr__, __dir__ = _lazy.exports(globals(), _LAZY)
