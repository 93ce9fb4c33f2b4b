// What a training run reports, as values any observer can keep, send or store.
//
// The events are Codable with a flat JSON shape, {"type": "step", "step": 12, …}, so that a
// dashboard can read them off a server-sent-event stream as they are, and Sendable, so that
// they can cross from the training thread to any task.
import Foundation

/// One optimizer step, as metrics.jsonl records it.
public struct StepRecord: Codable, Sendable, Equatable {
    public var step: Int
    public var trainLoss: Double
    public var valLoss: Double?
    public var lr: Double
    public var gradNorm: Double
    public var tokensPerSecond: Double
    public var elapsed: Double
    /// While following an inbox: the loss on the held-out part of the new documents (val_loss
    /// stays the loss on the original validation set, so forgetting shows as it rising).
    public var newValLoss: Double? = nil

    enum CodingKeys: String, CodingKey {
        case step, trainLoss = "train_loss", valLoss = "val_loss", lr, gradNorm = "grad_norm"
        case tokensPerSecond = "tokens_per_s", elapsed = "elapsed_s", newValLoss = "new_val_loss"
    }
}

public struct TrainingSummary: Codable, Sendable, Equatable {
    public var steps: Int
    public var finalTrainLoss: Double
    public var bestValLoss: Double?
    public var seconds: Double
    public var stoppedEarly: Bool
    public var interrupted: Bool

    enum CodingKeys: String, CodingKey {
        case steps, finalTrainLoss = "final_train_loss", bestValLoss = "best_val_loss", seconds
        case stoppedEarly = "stopped_early", interrupted
    }
}

public enum TrainingEvent: Sendable, Equatable {
    /// The run begins (or resumes) at `step` of `totalSteps`.
    case started(step: Int, totalSteps: Int, parameters: Int, config: TrainingConfig)
    case step(StepRecord, totalSteps: Int)
    case evaluated(step: Int, valLoss: Double, improved: Bool)
    case diagnostics(step: Int, [TensorDiagnostics])
    /// The best model so far was written to the model directory.
    case modelSaved(step: Int, path: String)
    case checkpointSaved(step: Int, path: String)
    case earlyStopped(step: Int, patience: Int)
    /// New shards were found in the data directory (`follow_data`).
    case dataAdded(step: Int, trainTokens: Int, valTokens: Int)
    /// A run following an inbox began round `round` of new data, ending at step `endStep`.
    case roundStarted(step: Int, round: Int, endStep: Int)
    case paused(step: Int)
    case resumed(step: Int)
    /// A stop was requested (Ctrl-C, a dashboard's stop button): checkpoint saved, run ended.
    case interrupted(step: Int)
    case finished(TrainingSummary)
    /// The run ended with an error; the last checkpoint and best model are intact.
    case failed(step: Int, message: String)

    /// The step the event belongs to (an SSE id, so that a reconnect resumes after it).
    public var stepNumber: Int {
        switch self {
        case .started(let s, _, _, _), .evaluated(let s, _, _), .diagnostics(let s, _), .modelSaved(let s, _),
             .checkpointSaved(let s, _), .earlyStopped(let s, _), .paused(let s), .resumed(let s), .interrupted(let s),
             .failed(let s, _), .dataAdded(let s, _, _), .roundStarted(let s, _, _):
            return s
        case .step(let r, _): return r.step
        case .finished(let summary): return summary.steps
        }
    }

    /// The `type` field of the JSON form.
    public var name: String {
        switch self {
        case .started: return "started"
        case .step: return "step"
        case .evaluated: return "evaluated"
        case .diagnostics: return "diagnostics"
        case .modelSaved: return "model_saved"
        case .checkpointSaved: return "checkpoint_saved"
        case .earlyStopped: return "early_stopped"
        case .paused: return "paused"
        case .resumed: return "resumed"
        case .interrupted: return "interrupted"
        case .finished: return "finished"
        case .failed: return "failed"
        case .dataAdded: return "data_added"
        case .roundStarted: return "round_started"
        }
    }
}

extension TrainingEvent: Codable {
    /// The flat JSON form: a `type` and the fields of that type.
    private struct Wire: Codable {
        var type: String
        var step: Int?
        var totalSteps: Int?
        var parameters: Int?
        var config: TrainingConfig?
        var record: StepRecord?
        var valLoss: Double?
        var improved: Bool?
        var tensors: [TensorDiagnostics]?
        var path: String?
        var patience: Int?
        var summary: TrainingSummary?
        var message: String?
        var trainTokens: Int?
        var valTokens: Int?
        var round: Int?

        enum CodingKeys: String, CodingKey {
            case type, step, totalSteps = "total_steps", parameters, config, record, valLoss = "val_loss", improved, tensors
            case path, patience, summary, message, trainTokens = "train_tokens", valTokens = "val_tokens", round
        }
    }

    public func encode(to encoder: Encoder) throws {
        var w = Wire(type: name, step: stepNumber)
        switch self {
        case .started(_, let total, let parameters, let config): w.totalSteps = total; w.parameters = parameters; w.config = config
        case .step(let r, let total): w.record = r; w.totalSteps = total
        case .evaluated(_, let v, let improved): w.valLoss = v; w.improved = improved
        case .diagnostics(_, let t): w.tensors = t
        case .modelSaved(_, let p), .checkpointSaved(_, let p): w.path = p
        case .earlyStopped(_, let p): w.patience = p
        case .finished(let s): w.summary = s
        case .failed(_, let m): w.message = m
        case .dataAdded(_, let t, let v): w.trainTokens = t; w.valTokens = v
        case .roundStarted(_, let r, let end): w.round = r; w.totalSteps = end
        case .paused, .resumed, .interrupted: break
        }
        try w.encode(to: encoder)
    }

    public init(from decoder: Decoder) throws {
        let w = try Wire(from: decoder)
        func need<T>(_ v: T?, _ field: String) throws -> T {
            guard let v else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(w.type) event without \(field)"))
            }
            return v
        }
        let step = w.step ?? 0
        switch w.type {
        case "started": self = .started(step: step, totalSteps: try need(w.totalSteps, "total_steps"),
                                        parameters: try need(w.parameters, "parameters"), config: try need(w.config, "config"))
        case "step": self = .step(try need(w.record, "record"), totalSteps: try need(w.totalSteps, "total_steps"))
        case "evaluated": self = .evaluated(step: step, valLoss: try need(w.valLoss, "val_loss"), improved: try need(w.improved, "improved"))
        case "diagnostics": self = .diagnostics(step: step, try need(w.tensors, "tensors"))
        case "model_saved": self = .modelSaved(step: step, path: try need(w.path, "path"))
        case "checkpoint_saved": self = .checkpointSaved(step: step, path: try need(w.path, "path"))
        case "early_stopped": self = .earlyStopped(step: step, patience: try need(w.patience, "patience"))
        case "paused": self = .paused(step: step)
        case "resumed": self = .resumed(step: step)
        case "interrupted": self = .interrupted(step: step)
        case "finished": self = .finished(try need(w.summary, "summary"))
        case "data_added": self = .dataAdded(step: step, trainTokens: try need(w.trainTokens, "train_tokens"),
                                             valTokens: try need(w.valTokens, "val_tokens"))
        case "round_started": self = .roundStarted(step: step, round: try need(w.round, "round"), endStep: try need(w.totalSteps, "total_steps"))
        case "failed": self = .failed(step: step, message: try need(w.message, "message"))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown event type '\(w.type)'"))
        }
    }
}
