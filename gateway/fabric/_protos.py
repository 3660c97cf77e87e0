"""The generated Fabric protobuf modules, bound once as ``Any``.

``hyperledger-fabric-protos`` ships its ``*_pb2`` modules without type stubs, so
attribute access on them is invisible to mypy; binding them here keeps the
``Any`` in one place instead of ``type: ignore`` comments across the package.
"""

from __future__ import annotations

from typing import Any

from fabric_protos.common import common_pb2 as _common_pb2
from fabric_protos.common import ledger_pb2 as _ledger_pb2
from fabric_protos.msp import identities_pb2 as _identities_pb2
from fabric_protos.orderer import ab_pb2 as _ab_pb2
from fabric_protos.orderer import ab_pb2_grpc as _ab_pb2_grpc
from fabric_protos.peer import chaincode_event_pb2 as _chaincode_event_pb2
from fabric_protos.peer import chaincode_pb2 as _chaincode_pb2
from fabric_protos.peer import events_pb2 as _events_pb2
from fabric_protos.peer import events_pb2_grpc as _events_pb2_grpc
from fabric_protos.peer import peer_pb2_grpc as _peer_pb2_grpc
from fabric_protos.peer import proposal_pb2 as _proposal_pb2
from fabric_protos.peer import proposal_response_pb2 as _proposal_response_pb2
from fabric_protos.peer import transaction_pb2 as _transaction_pb2

ab_pb2: Any = _ab_pb2
ab_pb2_grpc: Any = _ab_pb2_grpc
chaincode_event_pb2: Any = _chaincode_event_pb2
chaincode_pb2: Any = _chaincode_pb2
common_pb2: Any = _common_pb2
events_pb2: Any = _events_pb2
events_pb2_grpc: Any = _events_pb2_grpc
identities_pb2: Any = _identities_pb2
ledger_pb2: Any = _ledger_pb2
peer_pb2_grpc: Any = _peer_pb2_grpc
proposal_pb2: Any = _proposal_pb2
proposal_response_pb2: Any = _proposal_response_pb2
transaction_pb2: Any = _transaction_pb2
