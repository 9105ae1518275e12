package dev.jbert.kernels;

/**
 * The hyperparameters of one AdamW update, as {@code torch.optim.AdamW} defines them: decoupled
 * weight decay ({@code p -= lr * weightDecay * p}) followed by the Adam step with bias correction.
 * A weight decay of 0 is how the caller exempts biases and LayerNorm parameters.
 */
public record AdamW(float learningRate, float beta1, float beta2, float epsilon, float weightDecay) {
    public AdamW {
        if (!(learningRate >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)
                || !(epsilon > 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("invalid AdamW settings: " + this);
        }
    }

    /** The same settings with another learning rate (the schedule changes it every step). */
    public AdamW withLearningRate(float newLearningRate) {
        return new AdamW(newLearningRate, beta1, beta2, epsilon, weightDecay);
    }

    /** The same settings with another weight decay. */
    public AdamW withWeightDecay(float newWeightDecay) {
        return new AdamW(learningRate, beta1, beta2, epsilon, newWeightDecay);
    }
}
