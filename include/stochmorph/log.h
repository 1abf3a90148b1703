/* Every PetscLogEvent of stochmorph, registered in one place so -log_view answers "where did the time go?". */
#ifndef STOCHMORPH_LOG_H
#define STOCHMORPH_LOG_H

#include <stochmorph/sys.h>

extern PetscLogEvent SM_EVENT_Covariance, SM_EVENT_FFT, SM_EVENT_Noise, SM_EVENT_Threshold, SM_EVENT_H5Write,
  SM_EVENT_H5Read, SM_EVENT_Surface, SM_EVENT_TwoPoint, SM_EVENT_EDT, SM_EVENT_Components, SM_EVENT_Paths, SM_EVENT_MaxBall,
  SM_EVENT_TransportSetup, SM_EVENT_TransportSolve, SM_EVENT_TransportKept, SM_EVENT_TransportAssemble, SM_EVENT_ImageRead, SM_EVENT_Fit,
  SM_EVENT_Shape, SM_EVENT_Raster, SM_EVENT_Watershed, SM_EVENT_StarAtoms, SM_EVENT_StarCover, SM_EVENT_StarMerge,
  SM_EVENT_ShapeFit, SM_EVENT_ShapeOffset, SM_EVENT_TaskSteal;

/* Register the events (idempotent). Called by sm_initialize. */
PetscErrorCode sm_log_register(void);

#endif
