"""``Endorser.ProcessProposal``: evaluate on the own peer, endorse on enough organisations.

Evaluate asks only the own peer: a read needs no other organisation, and a proposal
with transient data must reach no peer the caller did not choose.

Endorse asks, concurrently, one peer of each of the first ``required`` organisations of
the :class:`~gateway.fabric.endorsement.EndorsementPlan` (own organisation first). A
peer that cannot be reached, or that answers with a failure that is not the chaincode's
own refusal (e.g. its chaincode server is down), is replaced by the next organisation's
peer, so one peer down does not stop writes. A refusal by the chaincode (its JSON error,
``chaincode.errors``) is final when the own peer refused too or could not answer: the
chaincode is deterministic, another peer would refuse as well. When the own peer endorsed,
another peer's refusal means its ledger is behind (a block the own peer committed has not
reached it yet), and the next organisation is asked instead; when none is left, the peers
that were behind are asked again after a short pause (up to three times, 1.2 s in all: the
other peers commit a block within moments of the own one). Found on the real network: a
consent granted right after her registration was refused by both other peers, which had not
committed the registration yet. A "not found" refusal when the own peer did not endorse is
asked again after the same pauses before it is final: the own peer delivers a block before
its state database holds the block's writes, and while it cannot answer the others may be
behind (found by the fault campaign: a grant right after her acknowledged registration
refused with UNKNOWN_CUSTOMER around a peer restart). The endorsements must then agree byte
for byte; endorsements that disagree are asked again after the same pauses (a peer a block
behind reads older versions).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

import grpc

from gateway.fabric._protos import peer_pb2_grpc
from gateway.fabric.endorsement import (
    EndorsementPolicy,
    chaincode_result,
    disagreement,
    is_endorsed,
    plan_endorsement,
    refusal_message,
)
from gateway.fabric.errors import (
    EndorseError,
    EndorsementMismatchError,
    ErrorDetail,
    EvaluateError,
    RefusalDecoder,
    no_refusals,
    rpc_code,
    rpc_detail,
)
from gateway.fabric.nodes import Node
from gateway.fabric.proposal import Proposal

#: Pauses before asking again the peers whose ledger was behind the own peer's (seconds).
BEHIND_PAUSES_S = (0.2, 0.4, 0.6)

_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def _may_be_behind(detail: ErrorDetail) -> bool:
    """A refusal a ledger that lacks a just-committed block gives (the record not found)."""
    return detail.refusal is not None and detail.refusal.kind == "not_found"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class Endorsers:
    """The own peer and the other organisations' peers, with the endorsement policy."""

    def __init__(self, own: Node, others: Sequence[Node], policy: EndorsementPolicy,
                 decode: RefusalDecoder = no_refusals) -> None:
        self.own = own
        self.decode = decode
        self.peers: tuple[Node, ...] = (own, *others)
        self.policy = policy
        self._stubs: dict[str, Any] = {
            n.address: peer_pb2_grpc.EndorserStub(n.channel) for n in self.peers}

    def _stub(self, node: Node) -> Any:
        return self._stubs[node.address]

    def evaluate(self, proposal: Proposal, timeout: float | None) -> bytes:
        """The chaincode's result on the own peer.

        Raises EvaluateError (the gRPC code, or UNKNOWN when the peer refused).
        """
        node = self.own
        try:
            response = self._stub(node).ProcessProposal(proposal.signed_proposal(),
                                                        timeout=timeout)
        except grpc.RpcError as exc:
            raise EvaluateError.from_rpc_error(exc, proposal.transaction_id,
                                               address=node.address, msp_id=node.msp_id) from exc
        if response.response.status >= 400:
            raise EvaluateError(
                "the peer refused the proposal", code=grpc.StatusCode.UNKNOWN,
                transaction_id=proposal.transaction_id,
                details=[self._refused(node, response)])
        return chaincode_result(response)

    def _refused(self, node: Node, response: Any) -> ErrorDetail:
        """A peer's refusal, with the chaincode's own refusal when the decoder finds one."""
        message = refusal_message(response)
        return ErrorDetail(node.address, node.msp_id, message, int(response.response.status),
                           refusal=self.decode(message))

    def _agreeing(self, chosen: list[tuple[Node, Any]], signed: Any,
                  timeout: float | None) -> list[tuple[Node, Any]]:
        """``chosen``, asked again after each of the short pauses while they disagree: a peer
        whose ledger lacks a block another peer committed reads older versions, so its
        read-write set differs (found on the real network: a customer's event batch right
        after another retailer's; her event index was a block old on one peer, the own or
        another). Returned as it stands when the pauses run out."""
        for pause in BEHIND_PAUSES_S:
            if disagreement([r for _, r in chosen]) is None:
                break
            time.sleep(pause)
            for i, (node, _) in enumerate(chosen):
                try:
                    response = self._stub(node).ProcessProposal(signed, timeout=timeout)
                except grpc.RpcError:
                    continue
                if is_endorsed(response):
                    chosen[i] = (node, response)
        return chosen

    def endorse(self, proposal: Proposal, trusted_orgs: Sequence[str] | None,
                timeout: float | None, policy: EndorsementPolicy | None = None
                ) -> list[tuple[Node, Any]]:
        """Agreeing endorsements of ``required`` distinct organisations: (peer, response).

        ``trusted_orgs``: the organisations allowed to see the proposal's transient data.
        Raises ValueError (the known peers can never satisfy the policy), EndorseError,
        EndorsementMismatchError.
        """
        plan = plan_endorsement(policy or self.policy, self.own.msp_id, self.peers,
                                trusted_orgs if proposal.has_transient else None)
        signed = proposal.signed_proposal()
        queue = list(plan.candidates)
        endorsed: dict[str, tuple[Node, Any]] = {}
        failures: list[tuple[grpc.StatusCode, ErrorDetail]] = []
        refusals: list[ErrorDetail] = []
        behind: list[Node] = []
        pauses = list(BEHIND_PAUSES_S)
        while len(endorsed) < plan.required and not refusals:
            batch: list[Node] = []
            while queue and len(batch) < plan.required - len(endorsed):
                node = queue.pop(0)
                if node.msp_id not in endorsed and all(b.msp_id != node.msp_id for b in batch):
                    batch.append(node)
            if not batch and behind and pauses:
                time.sleep(pauses.pop(0))
                queue, behind = behind, []
                continue
            if not batch:
                break
            calls = [(n, self._stub(n).ProcessProposal.future(signed, timeout=timeout))
                     for n in batch]
            refused_now: list[tuple[Node, ErrorDetail]] = []
            for node, call in calls:
                try:
                    response = call.result()
                except grpc.RpcError as exc:
                    failures.append((rpc_code(exc), rpc_detail(exc, node.address, node.msp_id)))
                    continue
                if is_endorsed(response):
                    endorsed[node.msp_id] = (node, response)
                    continue
                detail = self._refused(node, response)
                if detail.refusal is not None:
                    refused_now.append((node, detail))
                else:
                    failures.append((grpc.StatusCode.ABORTED, detail))
            if self.own.msp_id in endorsed:
                # The own peer endorsed, so a refusal elsewhere comes from a peer whose
                # ledger is behind (e.g. it has not committed the block that registered the
                # customer yet): try the next organisation instead.
                failures += [(grpc.StatusCode.ABORTED, d) for _, d in refused_now]
                behind += [n for n, _ in refused_now]
            elif refused_now and pauses and all(_may_be_behind(d) for _, d in refused_now):
                # "Not found" from the own peer, or from others while the own peer could not
                # answer, may be a write a moment away: a peer delivers a block (which is
                # when the gateway acknowledged that write) before its state database holds
                # the block's writes, and the others can be a block behind the own peer.
                time.sleep(pauses.pop(0))
                queue = [n for n, _ in refused_now] + queue
            else:
                refusals += [d for _, d in refused_now]
        tx_id = proposal.transaction_id
        if refusals:
            raise EndorseError("the chaincode refused the proposal", code=grpc.StatusCode.ABORTED,
                               transaction_id=tx_id,
                               details=refusals + [d for _, d in failures])
        if len(endorsed) < plan.required:
            codes = [c for c, _ in failures]
            code = (grpc.StatusCode.UNAVAILABLE if all(c in _UNREACHABLE for c in codes)
                    else next(c for c in codes if c not in _UNREACHABLE))
            raise EndorseError(
                f"{len(endorsed)} of the {plan.required} organisations the policy needs "
                "endorsed", code=code, transaction_id=tx_id, details=[d for _, d in failures])
        chosen = self._agreeing(list(endorsed.values()), signed, timeout)
        what = disagreement([r for _, r in chosen])
        if what is not None:
            raise EndorsementMismatchError(tx_id, what, [
                ErrorDetail(n.address, n.msp_id,
                            f"endorsed payload sha256 {_digest(r.payload)}",
                            int(r.response.status)) for n, r in chosen])
        return chosen
