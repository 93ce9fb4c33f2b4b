// One generation at a time: on two cores a second one would only halve both, and starve the
// training run. A request that finds the slot taken gets a clear 503 at once.
import Synchronization

final class GenerationSlot: Sendable {
    private let taken = Atomic<Bool>(false)

    var isBusy: Bool { taken.load(ordering: .relaxed) }

    /// Takes the slot, or throws 503 when a generation is running.
    func acquire() throws -> Lease {
        guard taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw APIError(.serviceUnavailable, "a generation is already running; this server runs one at a time (try again shortly)",
                           type: "server_busy")
        }
        return Lease(slot: self)
    }

    /// Gives the slot back when released (at the end of a response, streamed or not).
    final class Lease: Sendable {
        private let slot: GenerationSlot
        private let released = Atomic<Bool>(false)
        init(slot: GenerationSlot) { self.slot = slot }
        func release() {
            if !released.exchange(true, ordering: .acquiringAndReleasing) { slot.taken.store(false, ordering: .releasing) }
        }
        deinit { release() }
    }
}
