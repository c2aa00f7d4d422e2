/** `feedback/submit`, `feedback/list`, `feedback/show`, `feedback/retry`: the feedback spool. */
import { checkFeedbackIdParams, ErrorCodes, FeedbackList, FeedbackRetry, FeedbackShow, FeedbackSubmit } from '../../protocol/index.js';
import { ResponseError } from 'vscode-jsonrpc/node';

import type { ConnectionContext } from './context.js';

export function registerFeedbackHandlers(context: ConnectionContext): void {
  const { services, connection, handled } = context;

  /** The report `params` names, or the error for a bad id. */
  function namedReport(params: unknown): string {
    const checked = checkFeedbackIdParams(params);
    if (!checked.ok) {
      services.protocolError('invalid_params');
      throw new ResponseError(ErrorCodes.InvalidParams, checked.message);
    }
    return checked.value.feedbackId;
  }
  function unknownFeedback(id: string): ResponseError {
    services.protocolError('unknown_feedback');
    return new ResponseError(ErrorCodes.UnknownFeedback, `params.feedbackId: no report ${id} in the spool`);
  }

  connection.onRequest(
    FeedbackSubmit.method,
    handled(async (params: unknown): Promise<FeedbackSubmit.Result> => {
      const client = context.requireInitialized();
      const refused = context.overMemory('feedback reports');
      if (refused !== null) throw refused;
      const outcome = await services.feedback.submit(params, { name: client.name, version: client.version });
      if (outcome.ok) return outcome.value;
      services.protocolError(outcome.reason);
      throw new ResponseError(outcome.code, outcome.message);
    }),
  );
  connection.onRequest(
    FeedbackList.method,
    handled((): FeedbackList.Result => {
      context.requireInitialized();
      return { reports: services.feedback.list() };
    }),
  );
  connection.onRequest(
    FeedbackShow.method,
    handled((params: unknown): FeedbackShow.Result => {
      context.requireInitialized();
      const id = namedReport(params);
      const report = services.feedback.show(id);
      if (report === undefined) throw unknownFeedback(id);
      return report;
    }),
  );
  connection.onRequest(
    FeedbackRetry.method,
    handled(async (params: unknown): Promise<FeedbackRetry.Result> => {
      context.requireInitialized();
      const id = namedReport(params);
      const entry = await services.feedback.retry(id);
      if (entry === undefined) throw unknownFeedback(id);
      return { feedbackId: id, state: entry.state };
    }),
  );
}
