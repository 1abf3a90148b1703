/* Private to the theory module: quadrature rules shared by the bivariate normal and the chi2 coverage. */
#ifndef STOCHMORPH_THEORY_IMPL_H
#define STOCHMORPH_THEORY_IMPL_H

/* 20-point Gauss-Legendre rule on [-1, 1]: the 10 positive nodes and their weights (symmetric rule). */
extern const double sm_gl20_x[10], sm_gl20_w[10];

#endif
