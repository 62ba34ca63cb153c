using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Lamda.Build;

/// <summary>Errors and warnings about one LamdaModel item, with their codes, against the project file.</summary>
sealed class ItemLog(TaskLoggingHelper log, string projectPath)
{
    /// <summary>Logs the error; false, for <c>return log.Error(...)</c> in checks.</summary>
    public bool Error(ITaskItem item, string code, string message)
    {
        log.LogError("Lamda", code, null, projectPath, 0, 0, 0, 0, $"LamdaModel '{item.ItemSpec}': {message}");
        return false;
    }

    /// <summary>Logs the error; null, for <c>return log.Fail&lt;T&gt;(...)</c> where a value was expected.</summary>
    public T? Fail<T>(ITaskItem item, string code, string message) where T : class
    {
        Error(item, code, message);
        return null;
    }

    public void Warn(ITaskItem item, string code, string message) =>
        log.LogWarning("Lamda", code, null, projectPath, 0, 0, 0, 0, $"LamdaModel '{item.ItemSpec}': {message}");
}
